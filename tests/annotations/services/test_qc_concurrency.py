"""Concurrent QC writers of one campaign serialise: distinct ids, no (source, method) twice
(PostgreSQL, real threads)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from annotations.models import Campaign, Output
from annotations.services import qc_degraded_create
from tests.annotations.services.test_qc_controls import make_campaign

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 4


def test_concurrent_degraded_creation_never_collides():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    campaign = make_campaign(items=4, systems=2, slug="race")
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        try:
            barrier.wait(timeout=30)
            qc_degraded_create(campaign=Campaign.objects.get(pk=campaign.pk), count=3,
                               methods=("shuffle", "truncate"), seed=seed)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    copies = list(Output.objects.filter(qc_source__isnull=False)
                  .values_list("item__external_id", "qc_source_id", "qc_method"))
    assert len(copies) == 3 * THREADS
    assert len({external_id for external_id, _, _ in copies}) == 3 * THREADS
    assert len({(source, method) for _, source, method in copies}) == 3 * THREADS
