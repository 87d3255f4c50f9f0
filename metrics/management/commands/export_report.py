"""manage.py export_report CAMPAIGN --format json|csv|xlsx --out PATH."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.models import Campaign
from metrics.services.exports import report_csv_write, report_json_write, report_xlsx_write


class Command(BaseCommand):
    # A data command: skip the system checks (they import every view, ~2 s per run).
    requires_system_checks: list[str] = []
    help = "Write the campaign's report (json), long ratings table (csv) or spreadsheet (xlsx)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="the campaign's slug")
        parser.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
        parser.add_argument("--out", type=Path, required=True, help="output path ('-': stdout)")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self.stderr.write(f"campaign {options['campaign']!r} does not exist")
            sys.exit(2)
        out: Path = options["out"]
        fmt: str = options["format"]
        if str(out) == "-" and fmt == "xlsx":
            self.stderr.write("--out -: a spreadsheet cannot go to stdout; give a file path")
            sys.exit(2)
        if str(out) == "-":
            writer = report_json_write if fmt == "json" else report_csv_write
            writer(campaign=campaign, stream=sys.stdout)
            return
        if not out.parent.is_dir():
            self.stderr.write(f"{out.parent}: no such directory")
            sys.exit(2)
        partial = out.with_name(out.name + ".partial")
        if fmt == "xlsx":
            report_xlsx_write(campaign=campaign, path=partial)
        else:
            with partial.open("w", encoding="utf-8", newline="") as stream:
                writer = report_json_write if fmt == "json" else report_csv_write
                writer(campaign=campaign, stream=stream)
        partial.replace(out)  # never leave a half-written report under the final name
        self.stdout.write(f"wrote {out}")
