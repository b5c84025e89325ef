"""Black-box LLM strategies (DL, DH, TMH), their guarded OpenAI-compatible client and the SSRF guard.

Engine code: imports neither Django nor any htc app."""
