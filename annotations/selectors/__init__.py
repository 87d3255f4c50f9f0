"""Reads for campaigns, memberships and the rater's work, with permission scoping built in.

A package (STYLE: modules past ~400 lines): access (who may see which campaign), sql
(hot-path reads in plain SQL), work (the rater flow), progress (progress and the home
page). Everything public is re-exported here."""

from __future__ import annotations

from .access import (
    campaign_get_for_admin,
    campaign_is_admin,
    campaign_list_for_admin,
    live_q,
    membership_list_for_rater,
)
from .progress import (
    CampaignProgress,
    MyCampaign,
    RaterProgress,
    SystemCoverage,
    campaign_progress_get,
    rater_campaign_rows,
    real_output_q,
)
from .sql import (
    model_from_row,
    model_in_row,
    sql_columns,
)
from .work import (
    assignment_current_for_rater,
    assignment_get_for_rater,
    assignment_list_open_for_rater,
    assignment_previous_for_rater,
    campaign_get_for_progress,
    campaign_get_for_rater,
    criterion_list_for_campaign,
    criterion_payload_list,
    item_assignments_get,
    item_outputs_get,
    rating_get_for_assignment,
    rating_get_for_unit,
    token_get_with_user,
)

__all__ = [
    "CampaignProgress",
    "MyCampaign",
    "RaterProgress",
    "SystemCoverage",
    "assignment_current_for_rater",
    "assignment_get_for_rater",
    "assignment_list_open_for_rater",
    "assignment_previous_for_rater",
    "campaign_get_for_admin",
    "campaign_get_for_progress",
    "campaign_get_for_rater",
    "campaign_is_admin",
    "campaign_list_for_admin",
    "campaign_progress_get",
    "criterion_list_for_campaign",
    "criterion_payload_list",
    "item_assignments_get",
    "item_outputs_get",
    "live_q",
    "membership_list_for_rater",
    "model_from_row",
    "model_in_row",
    "rater_campaign_rows",
    "rating_get_for_assignment",
    "rating_get_for_unit",
    "real_output_q",
    "sql_columns",
    "token_get_with_user",
]
