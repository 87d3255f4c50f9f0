"""Pure computation on arrays: automatic metrics, agreement, statistics (no Django, no Celery)."""
