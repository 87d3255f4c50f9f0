"""Celery app: JSON only, late acks, settings from Django (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evalproject.settings.local")

app = Celery("evalproject")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
