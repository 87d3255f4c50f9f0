"""The real services this platform runs on. With CI=true a missing service fails, never skips."""

from __future__ import annotations

import os

import psycopg
import pytest
import redis

IN_CI = os.environ.get("CI") == "true"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PG_DSN = os.environ.get("TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")


def unavailable(service: str, error: Exception) -> None:
    message = f"{service} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: service-backed tests must run)")
    pytest.skip(message)


@pytest.mark.integration
def test_redis_broker_round_trip():
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        unavailable("Redis", error)
    client.set("evalproject:ci-check", "1", ex=10)
    assert client.get("evalproject:ci-check") == b"1"


@pytest.mark.integration
def test_postgresql_accepts_connections():
    try:
        connection = psycopg.connect(PG_DSN, connect_timeout=3)
    except psycopg.OperationalError as error:
        unavailable("PostgreSQL", error)
    with connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version_num')::int")
        assert cursor.fetchone()[0] >= 130000
