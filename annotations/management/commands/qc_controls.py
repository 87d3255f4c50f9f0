"""manage.py qc_controls CAMPAIGN --degraded N --repeats M --seed S: add QC copies."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from annotations.models import Campaign
from annotations.qc_text import METHODS
from annotations.services import QcError, qc_degraded_create, qc_repeats_create


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = ("Add degraded copies (shuffled, truncated, a span replaced) and exact repeats of "
            "real outputs to CAMPAIGN as quality-control items; all or nothing.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="the campaign's slug")
        parser.add_argument("--degraded", type=int, default=None, metavar="N",
                            help="how many degraded copies to add")
        parser.add_argument("--repeats", type=int, default=None, metavar="M",
                            help="how many exact repeats to add")
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        parser.add_argument("--methods", default=",".join(METHODS),
                            help=f"comma-separated degradations (default {','.join(METHODS)})")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self._fail(f"campaign {options['campaign']!r} does not exist")
        degraded, repeats, seed = options["degraded"], options["repeats"], options["seed"]
        if degraded is None and repeats is None:
            self._fail("nothing to do: give --degraded N and/or --repeats M")
        methods = tuple(m.strip() for m in options["methods"].split(",") if m.strip())
        try:
            with transaction.atomic():  # both kinds or neither
                made = qc_degraded_create(campaign=campaign, count=degraded, methods=methods,
                                          seed=seed) if degraded is not None else 0
                repeated = qc_repeats_create(campaign=campaign, count=repeats,
                                             seed=seed) if repeats is not None else 0
        except QcError as error:
            self._fail(f"{options['campaign']}: {error}")
        self.stdout.write(f"added {made} degraded copies and {repeated} repeats to "
                          f"{campaign.slug!r} (seed {seed})")

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        sys.exit(2)
