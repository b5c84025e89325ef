"""Per-project LLM endpoint settings (encrypted key, SSRF guard, "Test connection"); owns LLMEndpoint. May import
projects, htc_app and the engine's llm package; classifiers.strategies hands its settings to the strategies."""
