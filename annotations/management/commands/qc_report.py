"""manage.py qc_report CAMPAIGN [--json]: per-rater QC figures and flags."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.models import Campaign
from annotations.selectors_qc import RaterQc, qc_rater_stats

COLUMNS = ("rater", "ratings", "median s", "controls", "degraded", "p", "repeats",
           "mean |diff|", "excluded", "flags")


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(r: RaterQc) -> tuple[str, ...]:
    return (
        r.rater, str(r.ratings), _number(r.median_seconds, 1),
        f"{r.control_passed}/{r.control_seen}", f"{r.degraded_detected}/{r.degraded_pairs}",
        _number(r.degraded_p_value, 3), str(r.repeat_pairs),
        _number(r.repeat_mean_abs_diff, 2), "yes" if r.excluded else "",
        "; ".join(r.flags),
    )


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Print every rater's QC pass rate, degraded-copy test, consistency, speed and flags."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="the campaign's slug")
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self.stderr.write(f"campaign {options['campaign']!r} does not exist")
            sys.exit(2)
        stats = qc_rater_stats(campaign=campaign)
        if options["json"]:
            payload = {"campaign": campaign.slug,
                       "raters": [{**asdict(r), "flagged": r.flagged} for r in stats]}
            self.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False))
            return
        rows = [COLUMNS, *(_row(r) for r in stats)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths,
                                                                       strict=True)).rstrip())
        if not stats:
            self.stdout.write(f"no raters in {campaign.slug!r} yet")
