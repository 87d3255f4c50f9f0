"""Test settings: fast hashing, a throwaway key, tasks not eager unless a test asks."""

from __future__ import annotations

from .base import *  # noqa: F403

SECRET_KEY = "test-only-key-not-secret"  # noqa: S105 - test settings only
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EVAL_BOOTSTRAP_RESAMPLES = 200
# Static files come from the app folders (finders); there is no collected STATIC_ROOT in tests.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
