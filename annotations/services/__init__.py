"""Write operations for campaigns, imports and ratings (re-exported here)."""

from .assignments import (
    assignment_claim_next,
    assignment_coverage_rebuild,
    assignment_reassign,
    assignment_reset_for_rater,
    assignment_skip,
    rater_create,
)
from .imports import CampaignImportResult, RatingsImportResult, campaign_import, ratings_import
from .problems import ImportFailed, Problem
from .ratings import rating_submit

__all__ = [
    "CampaignImportResult",
    "ImportFailed",
    "Problem",
    "RatingsImportResult",
    "assignment_claim_next",
    "assignment_coverage_rebuild",
    "assignment_reassign",
    "assignment_reset_for_rater",
    "assignment_skip",
    "campaign_import",
    "rater_create",
    "rating_submit",
    "ratings_import",
]
from .qc import QcError, qc_degraded_create, qc_repeats_create, rater_exclude  # noqa: E402

__all__ += ["QcError", "qc_degraded_create", "qc_repeats_create", "rater_exclude"]
