"""The embedded default: a fresh clone, SQLite and Celery's filesystem broker (DEBUG from the environment;
bin/run sets it off unless DEBUG=1)."""
from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
