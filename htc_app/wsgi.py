"""WSGI entry point for htc."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "htc_app.settings")
application = get_wsgi_application()
