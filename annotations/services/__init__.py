"""Write operations for campaigns, imports and ratings (re-exported here)."""

from .imports import CampaignImportResult, RatingsImportResult, campaign_import, ratings_import
from .problems import ImportFailed, Problem

__all__ = [
    "CampaignImportResult",
    "ImportFailed",
    "Problem",
    "RatingsImportResult",
    "campaign_import",
    "ratings_import",
]
