"""The Django project: settings (the one place the environment is read), urls, middleware, storage, request-parsing
helpers (params.py), backup and the demo. Owns no table; its commands call the apps' services."""
