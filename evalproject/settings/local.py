"""Developer and `make demo` settings: SQLite, in-process tasks, DEBUG only if asked."""

from __future__ import annotations

import os
import secrets

from .base import *  # noqa: F403
from .base import BASE_DIR

_key_file = BASE_DIR / ".local_secret_key"


def _local_secret_key() -> str:
    """SECRET_KEY from the environment, else one generated once for this checkout (gitignored)."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    if not _key_file.exists():
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    return _key_file.read_text().strip()


SECRET_KEY = _local_secret_key()
# `make demo` serves static files straight from the app folders; no collectstatic step.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
