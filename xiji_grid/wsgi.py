"""WSGI entry point (gunicorn ``xiji_grid.wsgi``)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xiji_grid.settings.dev")
application = get_wsgi_application()
