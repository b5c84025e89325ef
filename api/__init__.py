"""The REST API (/api/v1/). Owns API tokens. May import every app's services and selectors (and its models to read
and scope objects), htc_app.params; writes go through the owning app's services. Nothing imports api."""
