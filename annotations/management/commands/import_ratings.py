"""manage.py import_ratings CAMPAIGN FILE: import existing human judgments (JSONL/CSV)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.models import Campaign
from annotations.services import ImportFailed, ratings_import


class Command(BaseCommand):
    # A data command: skip the system checks (they import every view, ~2 s per run).
    requires_system_checks: list[str] = []
    help = "Import rows {item_id, system, rater, criterion, value} into CAMPAIGN; all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="the campaign's slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=["jsonl", "csv"], default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self.stderr.write(f"campaign {options['campaign']!r} does not exist")
            sys.exit(2)
        if not path.is_file():
            self.stderr.write(f"{path}: no such file")
            sys.exit(2)
        try:
            with path.open("rb") as stream:
                result = ratings_import(campaign=campaign, stream=stream, name=path.name,
                                        fmt=options["format"])
        except ImportFailed as failure:
            for line in failure.lines:
                self.stderr.write(line)
            sys.exit(2)
        self.stdout.write(
            f"imported {result.rows} rating values ({result.ratings_created} ratings, "
            f"{result.raters_created} new raters) into {campaign.slug!r}"
        )
