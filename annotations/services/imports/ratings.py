"""Import existing human judgments {item_id, system, rater, criterion, value}: all or nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from annotations.models import (
    Campaign,
    CampaignMembership,
    Item,
    Output,
    Rating,
    RatingValue,
)

from ..bulk import (
    BatchFailed,
    BulkWriter,
    analyze_tables,
    output_ids_by_external_id,
)
from ..problems import ImportFailed, Problem, ProblemList, RowError
from ..readers import (
    as_number,
    as_text,
)
from . import common
from .common import RatingsImportResult, format_resolve, rows_read

RATING_FIELDS = {"item_id", "system", "rater", "criterion", "value", "comment"}


def ratings_import(
    *, campaign: Campaign, stream: IO[bytes], name: str, fmt: str | None = None
) -> RatingsImportResult:
    """Import judgments `{item_id, system, rater, criterion, value}`; all or nothing."""
    resolved = format_resolve(name, fmt)
    if campaign.kind == Campaign.Kind.PAIRWISE:
        raise ImportFailed(
            [
                Problem(
                    name,
                    1,
                    "importing judgments into a pairwise campaign is "
                    "not supported; import into a rating campaign",
                )
            ]
        )
    analyze_tables(Item, Output, Rating)
    with transaction.atomic():
        loader = _RatingLoader(campaign, name, resolved == "csv")
        problems = ProblemList()
        try:
            for line, row in rows_read(stream, name, resolved, problems):
                loader.add(line, row, problems)
            loader.flush(problems)
            try:
                loader.writer.finish()
            except BatchFailed as failure:
                problems.add(loader.diagnose(*failure.tag))
        finally:
            loader.writer.close()
        problems.raise_if_any()
        return RatingsImportResult(
            campaign=campaign,
            rows=loader.rows_written,
            ratings_created=loader.ratings_created,
            raters_created=loader.raters_created,
        )


_RATING_COLUMNS = (
    "id",
    "rater_id",
    "output_id",
    "comment",
    "source",
    "choice",
    "key",
    "created_at",
    "updated_at",
)
# (line, item external id, system id, rater username, criterion id, value, comment)
_ParsedRating = tuple[int, str, int, str, int, float, str]


@dataclass
class _RatingLoader:
    """Validates judgment rows and writes ratings and values in batches."""

    campaign: Campaign
    name: str
    from_csv: bool
    writer: BulkWriter = field(default_factory=BulkWriter)
    pending: list[_ParsedRating] = field(default_factory=list)
    users: dict[str, int] = field(default_factory=dict)
    members: set[int] = field(default_factory=set)
    # (rater id, output id) -> rating id, for ratings this import created
    created: dict[tuple[int, int], int] = field(default_factory=dict)
    rows_written: int = 0
    ratings_created: int = 0
    raters_created: int = 0

    def __post_init__(self) -> None:
        self.criteria = {c.key: c for c in self.campaign.criteria.all()}
        self.systems = dict(self.campaign.systems.values_list("name", "id"))
        self.members = set(self.campaign.memberships.values_list("user_id", flat=True))
        # With no earlier ratings every (rater, output) is new: no per-batch lookup needed.
        self.had_ratings = Rating.objects.filter(output__item__campaign=self.campaign).exists()

    def add(self, line: int, row: dict[str, Any], problems: ProblemList) -> None:
        try:
            self.pending.append(self._parse(line, row))
        except RowError as exc:
            problems.add(Problem(self.name, line, exc.message, field=exc.field))
            return
        if len(self.pending) >= common.BATCH_SIZE:
            self.flush(problems)

    def _parse(self, line: int, row: dict[str, Any]) -> _ParsedRating:
        # Fast path for the common, well-formed JSONL row; anything else takes the full checks.
        if len(row) == 5:
            item, system, rater = row.get("item_id"), row.get("system"), row.get("rater")
            key, value = row.get("criterion"), row.get("value")
            if (
                type(item) is str
                and type(system) is str
                and type(rater) is str
                and type(key) is str
                and type(value) in (int, float)
                and item.strip()
                and rater.strip()
                and len(rater) <= 150
            ):
                criterion = self.criteria.get(key)
                system_id = self.systems.get(system)
                if (
                    criterion is not None
                    and system_id is not None
                    and criterion.scale_min <= value <= criterion.scale_max
                ):
                    return (line, item, system_id, rater, criterion.pk, float(value), "")
        return self._parse_checked(line, row)

    def _parse_checked(self, line: int, row: dict[str, Any]) -> _ParsedRating:
        if not row.keys() <= RATING_FIELDS:
            raise RowError(sorted(set(row) - RATING_FIELDS)[0], "unknown field")
        external_id = as_text(row, "item_id", required=True)
        system = as_text(row, "system", required=True)
        username = as_text(row, "rater", required=True)
        key = as_text(row, "criterion", required=True)
        criterion = self.criteria.get(key)
        if criterion is None:
            raise RowError(
                "criterion",
                f"unknown criterion {key!r} (campaign has {', '.join(sorted(self.criteria))})",
            )
        value = as_number(row, "value", required=True)
        assert value is not None
        if not criterion.accepts(value):
            raise RowError(
                "value",
                f"{value:g} is outside the scale of {key!r} "
                f"({criterion.scale_min:g}–{criterion.scale_max:g})",
            )
        system_id = self.systems.get(system)
        if system_id is None:
            raise RowError("system", f"unknown system {system!r}")
        if len(username) > 150:
            raise RowError("rater", "longer than 150 characters")
        comment = as_text(row, "comment") if "comment" in row else ""
        return (line, external_id, system_id, username, criterion.pk, value, comment)

    def flush(self, problems: ProblemList) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        # Look items up even after an earlier problem, so one run reports them all.
        outputs = self._outputs_for(batch, problems)
        if problems:
            return
        self._ensure_raters({r[3] for r in batch})
        users = self.users
        keys = [(users[r[3]], outputs[(r[1], r[2])]) for r in batch]
        ratings, new_ratings = self._ratings_for(keys, batch)
        seen: set[tuple[int, int]] = set()
        values: list[tuple[int, int, float]] = []
        for r, key in zip(batch, keys, strict=True):
            pair = (ratings[key], r[4])
            if pair in seen:
                problems.add(self._duplicate(r[0]))
                return
            seen.add(pair)
            values.append((*pair, r[5]))
        try:
            self.writer.submit(
                (values, [r[0] for r in batch]),
                [
                    (Rating, _RATING_COLUMNS, new_ratings),
                    (RatingValue, ("rating_id", "criterion_id", "value"), values),
                ],
            )
        except BatchFailed as failure:
            problems.add(self.diagnose(*failure.tag))
            return
        self.rows_written += len(values)

    def diagnose(self, values: list[tuple[int, int, float]], lines: list[int]) -> Problem:
        """Name the line of a batch the database refused: a rating value stored earlier."""
        existing = set(
            RatingValue.objects.filter(rating_id__in={v[0] for v in values}).values_list(
                "rating_id", "criterion_id"
            )
        )
        line = next(
            (ln for v, ln in zip(values, lines, strict=True) if v[:2] in existing), lines[0]
        )
        return self._duplicate(line)

    def _duplicate(self, line: int) -> Problem:
        return Problem(
            self.name,
            line,
            "duplicate rating: this rater already rated this output on this criterion",
            field="value",
        )

    def _outputs_for(
        self, batch: list[_ParsedRating], problems: ProblemList
    ) -> dict[tuple[str, int], int]:
        external_ids = {r[1] for r in batch}
        rows = output_ids_by_external_id(campaign=self.campaign, external_ids=external_ids)
        outputs = {(ext, system_id): pk for ext, system_id, pk in rows if pk is not None}
        known_items = {ext for ext, _, _ in rows}
        names = {v: k for k, v in self.systems.items()}
        for r in batch:
            if r[1] not in known_items:
                problems.add(Problem(self.name, r[0], f"unknown item {r[1]!r}", field="item_id"))
            elif (r[1], r[2]) not in outputs:
                problems.add(
                    Problem(
                        self.name,
                        r[0],
                        f"item {r[1]!r} has no output from system {names[r[2]]!r}",
                        field="system",
                    )
                )
        return outputs

    def _ensure_raters(self, usernames: set[str]) -> None:
        missing = usernames - self.users.keys()
        if not missing:
            return
        user_model = get_user_model()
        self.users.update(
            user_model.objects.filter(username__in=missing).values_list("username", "id")
        )
        to_create = sorted(missing - self.users.keys())
        if to_create:
            unusable = make_password(None)
            user_model.objects.bulk_create(
                [user_model(username=u, password=unusable) for u in to_create]
            )
            self.users.update(
                user_model.objects.filter(username__in=to_create).values_list("username", "id")
            )
            self.raters_created += len(to_create)
        new_members = {self.users[u] for u in usernames} - self.members
        if new_members:
            CampaignMembership.objects.bulk_create(
                [
                    CampaignMembership(
                        campaign=self.campaign, user_id=uid, role=CampaignMembership.Role.RATER
                    )
                    for uid in new_members
                ]
            )
            self.members |= new_members

    def _ratings_for(
        self, keys: list[tuple[int, int]], batch: list[_ParsedRating]
    ) -> tuple[dict[tuple[int, int], int], list[tuple]]:
        """Rating id per (rater, output), and the rows of the ratings to create for the rest.

        Ids come from the sequence up front, so the new ratings go to the database in the same
        background batch as their values.
        """
        ratings = self.created
        wanted = set(keys) - ratings.keys()
        if self.had_ratings and wanted:
            for rater_id, output_id, pk in (
                Rating.objects.filter(
                    output_id__in={k[1] for k in wanted},
                    output_b__isnull=True,
                )
                .order_by()
                .values_list("rater_id", "output_id", "id")
            ):
                key = (rater_id, output_id)
                if key in wanted:
                    ratings[key] = pk
                    wanted.discard(key)
        comments = {key: r[6] for key, r in zip(keys, batch, strict=True) if r[6]}
        now = timezone.now()
        rows = []
        for key in sorted(wanted):
            rating_id = self.writer.allocate_id(Rating)
            ratings[key] = rating_id
            rows.append(
                (rating_id, *key, comments.get(key, ""), Rating.Source.IMPORT, "", "", now, now)
            )
        self.ratings_created += len(rows)
        return ratings, rows
