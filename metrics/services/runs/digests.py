"""Fingerprints: what a stored value was computed from (record, metric, options, versions)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from metrics.compute.automatic import (
    OutputRecord,
    metric_get,
    wordnet_find,
)
from metrics.compute.automatic.lm import lm_identity
from metrics.models import MetricRun
from metrics.selectors_runs import (
    ChunkRecords,
)

from .lifecycle import _RECORD_FIELDS, _options

_MOD = 1 << 128


def _hash(*parts: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part)
    return digest.digest()


def record_digest(record: OutputRecord) -> bytes:
    """A hash of every field of an output record (canonical JSON, sorted keys)."""
    fields = tuple(getattr(record, name) for name in _RECORD_FIELDS)
    return _hash(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
                              default=str))


def metric_digest(*, run: MetricRun, name: str) -> bytes:
    """A hash of what besides the inputs decides a metric's values in this run."""
    spec = metric_get(name)
    identity: dict[str, Any] = {
        "metric": name, "options": run.options, "versions": run.versions,
        "segment_level": spec.segment_level, "custom": spec.custom,
    }
    if name == "meteor":
        folder = wordnet_find(_options(run, segments=True).wordnet_dir)
        identity["wordnet"] = str(folder) if folder else None
    if name == "lm_perplexity":
        # Another model (or the extra installed later) must not reuse the old values.
        identity["lm"] = lm_identity()
    return _hash(orjson.dumps(identity, option=orjson.OPT_SORT_KEYS, default=str))


def _fingerprint(*parts: bytes) -> str:
    return _hash(*parts).hex()


def _system_digests(data: ChunkRecords, digests: Sequence[bytes]) -> dict[str, list[Any]]:
    """system id → [outputs, hex of Σ hash(output id, record) mod 2**128] over one chunk."""
    sums: dict[str, list[Any]] = {}
    for output_id, system_id, digest in zip(data.output_ids, data.system_ids, digests,
                                            strict=True):
        entry = sums.setdefault(str(system_id), [0, 0])
        entry[0] += 1
        entry[1] = (entry[1] + int.from_bytes(_hash(str(output_id).encode(), digest))) % _MOD
    return {key: [count, f"{total:032x}"] for key, (count, total) in sums.items()}


# --- chunks ----------------------------------------------------------------------------------
