"""The Django project: settings (the one place the environment is read), urls, middleware, shared request-parsing
helpers (params.py), backup and the demo. Owns no table."""
