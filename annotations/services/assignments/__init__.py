"""Assignment engine: hand raters blind, balanced, item-blocked work under leases.

Every write to an item's assignments (claim, renew, submit, skip, reset) first locks that
item's row, so they serialise per item in the database: `SELECT ... FOR UPDATE SKIP LOCKED`
on PostgreSQL (a claimer moves on to the next candidate item instead of waiting), and on
SQLite the IMMEDIATE transactions of the settings already serialise all writers. Coverage is
counted again from the assignments once the lock is held, so no unit (an output, or an output
pair in pairwise campaigns) ever gets more than k live assignments. Live = submitted, or
assigned with an unexpired lease.

Finding work is cheap: `annotations_itemcoverage` (migration 0006) keeps, per item, the
ASSIGNED + SUBMITTED assignments per unit (`fill`), written under the item lock by every
engine write. A claim reads the least-filled items from one index, plus the items with lapsed
leases from a partial index, instead of aggregating the whole campaign. The table is only a
guide: a stale row costs a wasted lock at worst, and it is rebuilt whenever a search comes up
empty, so no work is ever hidden for good.

Quality control (campaign.options["qc"]): a claim draws, from the block's stored seed, whether
this block is a control item, a degraded copy or a repeat (at the campaign's rates; `qc_draw`
replays it); with nothing eligible the block is a regular one. A control item is an item all
of whose outputs carry `control`; it is handed out only through such draws (never without a
control rate). Copies only go to raters who rated their source output, never right after
its item. QC items come out of the same blocks, leases and k cap as everything else, so the
rater cannot tell them apart; the quota counts real units only, and once it is reached the
rater is done (no QC after it). An excluded rater gets no more work.

Modules: `base` (constants, seeded order, QC draws), `rows` (item locks, written-out
INSERTs), `coverage` (the guide), `search` (finding work), `claim` (handing it out),
`changes` (submission, skip, reset, reassign), `raters` (rater accounts).
"""

from .base import (
    COVERAGE,
    DEFAULT_LEASE_MINUTES,
    QC_CONTROL,
    QC_DEGRADED,
    QC_NONE,
    QC_REPEAT,
    SKIP_REASON_MAX,
    block_order,
    lease_minutes,
    qc_draw,
)
from .changes import (
    assignment_reassign,
    assignment_reset_for_rater,
    assignment_settle_submission,
    assignment_skip,
)
from .claim import assignment_claim_next
from .coverage import assignment_coverage_rebuild
from .raters import RaterCreated, rater_create
from .rows import rows_insert

__all__ = [
    "COVERAGE",
    "DEFAULT_LEASE_MINUTES",
    "QC_CONTROL",
    "QC_DEGRADED",
    "QC_NONE",
    "QC_REPEAT",
    "SKIP_REASON_MAX",
    "RaterCreated",
    "assignment_claim_next",
    "assignment_coverage_rebuild",
    "assignment_reassign",
    "assignment_reset_for_rater",
    "assignment_settle_submission",
    "assignment_skip",
    "block_order",
    "lease_minutes",
    "qc_draw",
    "rater_create",
    "rows_insert",
]
