"""Quality control writes: degraded and repeated copies of real outputs, rater exclusion.

Degraded controls are WMT's "bad reference" items generalised (Graham et al. 2013,
"Continuous measurement scales in human evaluation of machine translation"; Graham et al.
2017, "Can machine translation systems be evaluated by the crowd alone?"; WMT direct
assessment since 2016): a copy of a real output made worse on purpose, shown to raters like
any other item. A rater who scores the copies like their originals is not reading. Repeats
are exact copies that measure whether a rater gives the same text the same score twice. The
text degradations themselves are the pure functions of `annotations.qc_text`.

Each copy is a QC item of its own (same input and references as its source item, an
external id `qc-<kind>-<n>` that no existing item of the campaign has) holding one output of
the source's system, with `qc_source` and `qc_method` set. The reports leave every QC item
out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from annotations import qc_text
from annotations.models import Campaign, CampaignMembership, Item, Output, QcKind
from annotations.selectors import campaign_is_admin

from .assignments import assignment_reset_for_rater

REPEAT = "repeat"
DONOR_POOL = 200  # outputs sampled as word donors for "replace"
TEXT_BATCH = 64  # candidate texts fetched per query while picking


class QcError(ValueError):
    """Bad arguments for a QC operation (one line); nothing was written."""


def real_outputs(campaign: Campaign) -> Any:
    """The campaign's outputs that are real work: not control items, not QC copies."""
    return Output.objects.filter(item__campaign=campaign, item__qc_kind=QcKind.NONE,
                                 control__isnull=True, qc_source__isnull=True)


@dataclass
class _Pick:
    source_id: int
    item_id: int
    system_id: int
    method: str
    text: str


@dataclass
class _Picker:
    """Walks the campaign's real outputs in a seeded order spread over systems and items.

    Each system's outputs are ordered by one shared random permutation of the items, system
    j starting at offset j·items/systems, so that rounds over the systems take different
    items. Pick k goes to system k mod S with method (k div S + k mod S) mod M, so that every
    system cycles through the methods; a (system, method) with nothing left falls back to the
    other methods, then to the other systems. A source is used once per call while unused
    ones remain, then again by another method.
    """

    rows: list[tuple[int, int, int]]  # (output id, item id, system id)
    methods: Sequence[str]
    done: set[tuple[int, str]]  # (source id, method) copies that already exist
    make: Callable[[str, str, int], str | None]  # (text, method, item id) -> copy or None
    rng: random.Random
    lists: dict[int, list[int]] = field(default_factory=dict)
    systems: list[int] = field(default_factory=list)
    where: dict[tuple[int, str, bool], int] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)
    unusable: set[tuple[int, str]] = field(default_factory=set)
    item_of: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        items = sorted({item for _, item, _ in self.rows})
        self.rng.shuffle(items)
        rank = {item: i for i, item in enumerate(items)}
        by_system: dict[int, list[tuple[int, int]]] = {}
        for pk, item, system in self.rows:
            by_system.setdefault(system, []).append((rank[item], pk))
            self.item_of[pk] = item
        self.systems = sorted(by_system)
        self.rng.shuffle(self.systems)
        n = len(items)
        for j, system in enumerate(self.systems):
            offset = j * n // len(self.systems)
            self.lists[system] = [pk for _, pk in sorted(
                ((r - offset) % n, pk) for r, pk in by_system[system])]

    def pick(self, count: int) -> list[_Pick]:
        picks: list[_Pick] = []
        for k in range(count):
            # Prefer sources not used yet in this call; reuse one (by another method) only
            # when no fresh source is left.
            chosen = self._choose(k, fresh=True) or self._choose(k, fresh=False)
            if chosen is None:
                break
            picks.append(chosen)
        return picks

    def _choose(self, k: int, *, fresh: bool) -> _Pick | None:
        s, m = len(self.systems), len(self.methods)
        first_system, first_method = k % s, (k // s + k % s) % m
        for ds in range(s):
            system = self.systems[(first_system + ds) % s]
            for dm in range(m):
                chosen = self._next(system, self.methods[(first_method + dm) % m], fresh)
                if chosen is not None:
                    return chosen
        return None

    def _next(self, system: int, method: str, fresh: bool) -> _Pick | None:
        outputs = self.lists[system]
        i = self.where.get((system, method, fresh), 0)
        while i < len(outputs):
            pk = outputs[i]
            if (fresh and pk in self.taken) or (pk, method) in self.done \
                    or (pk, method) in self.unusable:
                i += 1
                continue
            text = self._text(outputs, i)
            copy = self.make(text, method, self.item_of[pk])
            if copy is None:
                self.unusable.add((pk, method))
                i += 1
                continue
            self.taken.add(pk)
            self.done.add((pk, method))
            self.where[(system, method, fresh)] = i + 1
            return _Pick(pk, self.item_of[pk], system, method, copy)
        self.where[(system, method, fresh)] = i
        return None

    def _text(self, outputs: list[int], i: int) -> str:
        if outputs[i] not in self.texts:
            batch = [pk for pk in outputs[i:i + TEXT_BATCH] if pk not in self.texts]
            self.texts.update(Output.objects.filter(pk__in=batch).values_list("pk", "text"))
        return self.texts[outputs[i]]


def _check(campaign: Campaign, count: int) -> list[tuple[int, int, int]]:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise QcError(f"count must be a whole number of at least 1, not {count!r}")
    if campaign.kind == Campaign.Kind.PAIRWISE:
        raise QcError("QC copies are for rating campaigns; pairwise campaigns compare whole "
                      "items, which a copy of one output cannot join")
    rows = list(real_outputs(campaign).order_by("pk").values_list("pk", "item_id", "system_id"))
    if not rows:
        raise QcError(f"campaign {campaign.slug!r} has no outputs to copy")
    return rows


def _existing(campaign: Campaign, methods: Sequence[str]) -> set[tuple[int, str]]:
    return set(Output.objects.filter(item__campaign=campaign, qc_source__isnull=False,
                                     qc_method__in=list(methods))
               .values_list("qc_source_id", "qc_method"))


def _external_ids(campaign: Campaign, kind: str, count: int) -> Iterator[str]:
    prefix = f"qc-{kind}-"
    taken = set(Item.objects.filter(campaign=campaign, external_id__startswith=prefix)
                .values_list("external_id", flat=True))
    n, made = 0, 0
    while made < count:
        n += 1
        if f"{prefix}{n}" not in taken:
            made += 1
            yield f"{prefix}{n}"


def _write(campaign: Campaign, kind: str, picks: list[_Pick], *, seed: int, by: Any) -> int:
    sources = Item.objects.in_bulk([p.item_id for p in picks])
    audit = {"seed": seed, "by": by.get_username() if by is not None else None}
    items = [
        Item(campaign=campaign, external_id=external_id, input=sources[p.item_id].input,
             references=sources[p.item_id].references, qc_kind=kind,
             metadata={"qc": {**audit, "source_item": sources[p.item_id].external_id}})
        for p, external_id in zip(picks, _external_ids(campaign, kind, len(picks)), strict=True)
    ]
    Item.objects.bulk_create(items)
    Output.objects.bulk_create([
        Output(item=item, system_id=p.system_id, text=p.text, qc_source_id=p.source_id,
               qc_method=p.method)
        for item, p in zip(items, picks, strict=True)
    ])
    return len(picks)


def _lock(campaign: Campaign) -> None:
    """Serialise QC writers of one campaign (their external ids must not collide).

    A no-key lock: rows that merely reference the campaign (assignments, ratings' items)
    can still be inserted meanwhile, so raters are not held up.
    """
    list(Campaign.objects.select_for_update(no_key=True).filter(pk=campaign.pk)
         .values_list("pk"))


def _donors(rows: list[tuple[int, int, int]], rng: random.Random) -> list[tuple[int, str]]:
    sample = rng.sample(rows, min(DONOR_POOL, len(rows)))
    texts = dict(Output.objects.filter(pk__in=[r[0] for r in sample]).values_list("pk", "text"))
    return [(item, texts[pk]) for pk, item, _ in sample]


@transaction.atomic
def qc_degraded_create(*, campaign: Campaign, count: int,
                       methods: Sequence[str] = qc_text.METHODS, seed: int,
                       by: Any = None) -> int:
    """Add `count` degraded copies of real outputs (seeded, spread over systems and items).

    A source never gets a second copy by the same method. Outputs too short for a method
    (see `annotations.qc_text`) are passed over for it. When fewer than `count` copies can be
    made, QcError says how many could, and nothing is written.
    """
    methods = (methods,) if isinstance(methods, str) else tuple(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in qc_text.METHODS]
    if not methods or unknown:
        raise QcError(f"unknown degradation method {', '.join(unknown) or '(none)'}; "
                      f"use {', '.join(qc_text.METHODS)}")
    rows = _check(campaign, count)
    _lock(campaign)
    rng = random.Random(seed)
    donors = _donors(rows, rng) if "replace" in methods else []

    def make(text: str, method: str, item_id: int) -> str | None:
        others = [t for item, t in donors if item != item_id]
        try:
            return qc_text.degrade(text, method, rng, others)
        except qc_text.NotDegradable:
            return None

    picks = _Picker(rows, methods, _existing(campaign, methods), make, rng).pick(count)
    if len(picks) < count:
        raise QcError(f"only {len(picks)} more degraded copies ({'/'.join(methods)}) can be "
                      f"made in {campaign.slug!r}; asked for {count}")
    return _write(campaign, QcKind.DEGRADED, picks, seed=seed, by=by)


@transaction.atomic
def qc_repeats_create(*, campaign: Campaign, count: int, seed: int, by: Any = None) -> int:
    """Add `count` exact copies of real outputs, each source repeated at most once."""
    rows = _check(campaign, count)
    _lock(campaign)
    rng = random.Random(seed)
    picks = _Picker(rows, (REPEAT,), _existing(campaign, (REPEAT,)),
                    lambda text, method, item_id: text, rng).pick(count)
    if len(picks) < count:
        raise QcError(f"only {len(picks)} more outputs can be repeated in {campaign.slug!r}; "
                      f"asked for {count}")
    return _write(campaign, QcKind.REPEAT, picks, seed=seed, by=by)


def rater_exclude(*, campaign: Campaign, user: Any, excluded: bool, by: Any,
                  now: datetime | None = None) -> CampaignMembership:
    """Exclude (or re-include) a rater's ratings from the campaign's report; reversible."""
    if by is not None and not campaign_is_admin(user=by, campaign=campaign):
        raise PermissionDenied("only the campaign's admins can exclude raters")
    with transaction.atomic():
        membership = (CampaignMembership.objects.select_for_update()
                      .filter(campaign=campaign, user=user,
                              role=CampaignMembership.Role.RATER).first())
        if membership is None:
            raise QcError(f"{user.get_username()!r} is not a rater of {campaign.slug!r}")
        if membership.excluded != excluded:
            membership.excluded = excluded
            membership.excluded_at = (now or timezone.now()) if excluded else None
            membership.full_clean(exclude=["campaign", "user"], validate_unique=False,
                                  validate_constraints=False)
            membership.save(update_fields=["excluded", "excluded_at"])
            if excluded:
                # Their open work goes back to the pool now, not when the leases lapse.
                assignment_reset_for_rater(campaign=campaign, rater=user, by=by, now=now)
    return membership
