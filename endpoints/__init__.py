"""Per-project LLM endpoint settings (encrypted key, SSRF guard). Owns LLMEndpoint. May import: projects, the
engine's llm package (prompts, netguard); classifiers.strategies hands its settings to the strategies."""
