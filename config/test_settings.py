"""Settings for the test suite: the real settings, with test-friendly defaults for the environment.

Anything set in the environment still wins, so CI can point the same suite at PostgreSQL and a
Redis broker (DATABASE_URL, CELERY_BROKER_URL, RUN_CELERY_WORKER_TESTS).
"""

import os
import secrets
import tempfile

os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")
os.environ.setdefault("CACHE_URL", "locmemcache://")
os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
# A key of the test run's own, never one written in the code; in os.environ, so the processes the
# suite starts (a real Celery worker) inherit it.
os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
os.environ.setdefault("MIM_VAR_DIR", os.path.join(tempfile.gettempdir(), "mimdesk-test-var"))

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
