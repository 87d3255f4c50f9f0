"""Imports, streamed and all or nothing (module docstrings say how); re-exported here.

Rows are read one at a time, validated, and written in batches inside one transaction. Any
problem stops the writing, reading continues to count the problems, and the transaction rolls
back: the database is unchanged.
"""

from .common import CampaignImportResult, RatingsImportResult
from .outputs import campaign_import
from .ratings import ratings_import

__all__ = ["CampaignImportResult", "RatingsImportResult", "campaign_import", "ratings_import"]
