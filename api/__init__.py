"""The REST API (/api/v1/). Owns: API tokens. May import: every app's services and selectors (never another app's
models for writing), htc_app.params; nothing imports api."""
