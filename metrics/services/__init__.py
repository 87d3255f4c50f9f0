"""Report building and exports (re-exported here)."""

from .reports import report_build

__all__ = ["report_build"]
