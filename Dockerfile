# syntax=docker/dockerfile:1
# evalproject application image: one image for `web` (gunicorn) and `worker` (celery).
# Build:  docker build -t evalproject .
# Run:    see docker-compose.yml (needs SECRET_KEY, DATABASE_URL, CELERY_BROKER_URL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=evalproject.settings.production \
    WEB_CONCURRENCY=3 \
    NLTK_DATA=/app/nltk_data

# wordnet-base: WordNet data for METEOR's synonym matching (DESIGN.md section 2), so no
# corpus is downloaded at run time.
RUN apt-get update \
    && apt-get install -y --no-install-recommends wordnet-base wordnet-sense-index \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged runtime user; the code stays owned by root, so the app cannot rewrite it.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app

# Dependencies first, in their own layer, so code edits do not reinstall numpy/scipy.
# Empty stand-in packages let `pip install .` resolve pyproject.toml's dependencies;
# the stand-in distribution is removed straight away.
COPY pyproject.toml README.md ./
RUN mkdir -p evalproject annotations metrics \
    && touch evalproject/__init__.py annotations/__init__.py metrics/__init__.py \
    && pip install . \
    && pip uninstall -y evalproject \
    && rm -rf evalproject annotations metrics build ./*.egg-info

# The project itself. It is also run from /app (PYTHONPATH, WORKDIR) so that settings'
# BASE_DIR finds templates/ and static/ next to manage.py.
COPY . .
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && python -m metrics.wordnet /app/nltk_data

# Static files are collected at build time. The key below exists only for this one step
# (collectstatic needs settings to load); it is not in the image's environment, and the
# production settings refuse to start without a real SECRET_KEY at run time.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    python manage.py collectstatic --noinput

USER app

EXPOSE 8000

# Worker count: WEB_CONCURRENCY; other gunicorn options: GUNICORN_CMD_ARGS.
CMD ["gunicorn", "evalproject.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
