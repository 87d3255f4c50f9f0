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
    Rating,
    RatingValue,
)

from ..bulk import (
    BatchFailed,
    BulkWriter,
    analyze_tables,
    bulk_session,
    copy_escape,
    output_ids_by_external_id,
)
from ..problems import ImportFailed, Problem, ProblemList, RowError
from ..readers import (
    as_number,
    as_text,
    quoted,
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
    # Fresh statistics for the items, where each batch's lookup starts (a few ms for 10k
    # items). Outputs and ratings are reached through their indexes by item or output id and
    # the planner scales their row counts to the table's current size, so their statistics
    # are left to autovacuum: ANALYZE samples 30,000 rows of each, which on 100k outputs took
    # longer than reading the whole judgments file.
    analyze_tables(Item)
    with transaction.atomic(), bulk_session():
        loader = _RatingLoader(campaign, name, resolved == "csv")
        problems = ProblemList()
        try:
            for line, row in rows_read(stream, name, resolved, problems):
                loader.add(line, row, problems)
            loader.flush(problems)
            try:
                loader.writer.finish()
            except BatchFailed as failure:
                problems.add(loader.diagnose(failure))
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
_VALUE_COLUMNS = ("rating_id", "criterion_id", "value")
# (line, item external id, system id, rater username, criterion id,
#  the value's COPY text after its rating id, comment)
_ParsedRating = tuple[int, str, int, str, int, str, str]
# Checked (system, rater, criterion, value, type of value) -> (system id, rater, criterion id,
# COPY text): a file repeats a few thousand combinations, so most rows cost one lookup.
_MEMO_LIMIT = 100_000
_OUTPUT_SHIFT = 1 << 32  # (output, rater) pair as one int: output * 2**32 + rater (an int4)


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
    # output id * 2**32 + rater id -> rating id, for ratings this import created
    created: dict[int, int] = field(default_factory=dict)
    memo: dict[tuple[Any, ...], tuple[int, str, int, str]] = field(default_factory=dict)
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
        if len(row) == 5 and not self.from_csv:
            item, value = row.get("item_id"), row.get("value")
            combo = (row.get("system"), row.get("rater"), row.get("criterion"), value, type(value))
            try:
                known = self.memo.get(combo)
            except TypeError:  # a list or an object where a string belongs
                known = None
            if known is None:
                known = self._memo_add(combo)
            if known is not None and type(item) is str and item and not item.isspace():
                return (line, item, known[0], known[1], known[2], known[3], "")
        return self._parse_checked(line, row)

    def _memo_add(self, combo: tuple[Any, ...]) -> tuple[int, str, int, str] | None:
        """Check a new (system, rater, criterion, value) once; None if the row needs the
        full checks (which give the error)."""
        system, rater, key, value, kind = combo
        if not (
            type(system) is str
            and type(rater) is str
            and type(key) is str
            and kind in (int, float)
            and rater.strip()
            and len(rater) <= 150
        ):
            return None
        criterion = self.criteria.get(key)
        system_id = self.systems.get(system)
        if (
            criterion is None
            or system_id is None
            or not criterion.scale_min <= value <= criterion.scale_max  # NaN is not JSON
        ):
            return None
        known = (system_id, rater, criterion.pk, _value_text(criterion.pk, value))
        if len(self.memo) < _MEMO_LIMIT:
            self.memo[combo] = known
        return known

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
        raw = row.get("value")
        if not self.from_csv and isinstance(raw, str):
            _refuse_quoted_number(raw)
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
        return (line, external_id, system_id, username, criterion.pk,
                _value_text(criterion.pk, value), comment)

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
        keys = [outputs[(r[1], r[2])] * _OUTPUT_SHIFT + users[r[3]] for r in batch]
        ratings, new_ratings = self._ratings_for(keys, batch)
        seen: set[tuple[int, int]] = set()
        pairs: list[tuple[int, int]] = []
        values: list[str] = []
        for r, key in zip(batch, keys, strict=True):
            rating_id = ratings[key]
            pair = (rating_id, r[4])
            if pair in seen:
                problems.add(self._duplicate(r[0]))
                return
            seen.add(pair)
            pairs.append(pair)
            values.append(f"{rating_id}{r[5]}")
        try:
            self.writer.submit(
                (pairs, batch),
                [
                    (Rating, _RATING_COLUMNS, new_ratings),
                    (RatingValue, _VALUE_COLUMNS, "".join(values)),
                ],
            )
        except BatchFailed as failure:
            problems.add(self.diagnose(failure))
            return
        self.rows_written += len(values)

    def diagnose(self, failure: BatchFailed) -> Problem:
        """Name the line of a batch the database refused: a rating value stored earlier."""
        pairs, batch = failure.tag
        existing = set(
            RatingValue.objects.filter(rating_id__in={p[0] for p in pairs}).values_list(
                "rating_id", "criterion_id"
            )
        )
        line = next((r[0] for p, r in zip(pairs, batch, strict=True) if p in existing), None)
        if line is None:
            return Problem(self.name, batch[0][0], f"the database refused this batch: "
                                                   f"{str(failure.cause).splitlines()[0]}")
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
        outputs = {(ext, system_id): pk for ext, system_id, pk in rows
                   if system_id is not None and pk is not None}
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
        self, keys: list[int], batch: list[_ParsedRating]
    ) -> tuple[dict[int, int], str]:
        """Rating id per (output, rater) key, and the COPY text of the ratings to create.

        Ids come from the sequence up front, so the new ratings go to the database in the same
        background batch as their values.
        """
        ratings = self.created
        wanted = set(keys) - ratings.keys()
        if self.had_ratings and wanted:
            for rater_id, output_id, pk in (
                Rating.objects.filter(
                    output_id__in={k // _OUTPUT_SHIFT for k in wanted},
                    output_b__isnull=True,
                )
                .order_by()
                .values_list("rater_id", "output_id", "id")
            ):
                key = output_id * _OUTPUT_SHIFT + rater_id
                if key in wanted:
                    ratings[key] = pk
                    wanted.discard(key)
        comments = {key: r[6] for key, r in zip(keys, batch, strict=True) if r[6]}
        now = timezone.now().isoformat()
        tail = f"\t{Rating.Source.IMPORT}\t\t\t{now}\t{now}\n"
        allocate = self.writer.allocate_id
        lines = []
        for key in sorted(wanted):
            rating_id = allocate(Rating)
            ratings[key] = rating_id
            output_id, rater_id = divmod(key, _OUTPUT_SHIFT)
            comment = copy_escape(comments[key]) if key in comments else ""
            lines.append(f"{rating_id}\t{rater_id}\t{output_id}\t{comment}{tail}")
        self.ratings_created += len(lines)
        return ratings, "".join(lines)


def _value_text(criterion_id: int, value: float) -> str:
    """A rating value's COPY text after its rating id."""
    return f"\t{criterion_id}\t{float(value)!r}\n"


def _refuse_quoted_number(value: str) -> None:
    """JSONL carries numbers as numbers: "2" in quotes is refused (CSV cells are text)."""
    try:
        float(value.strip())
    except ValueError:
        return  # not a number at all: as_number gives its own message
    raise RowError("value", f"{quoted(value)} is a string; write the number without quotes")
