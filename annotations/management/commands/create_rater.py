"""manage.py create_rater USERNAME --campaign SLUG [--email E]: a rater with an API token."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandParser

from annotations.models import Campaign
from annotations.services import rater_create


class Command(BaseCommand):
    requires_system_checks: list[str] = []
    help = "Create (or reuse) a rater, join them to the campaign, print their API token last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--campaign", required=True, help="the campaign's slug")
        parser.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(slug=options["campaign"]).first()
        if campaign is None:
            self.stderr.write(f"campaign {options['campaign']!r} does not exist")
            sys.exit(2)
        try:
            result = rater_create(username=options["username"], campaign=campaign,
                                  email=options["email"])
        except ValidationError as error:
            problems = "; ".join(f"{field}: {' '.join(messages)}"
                                 for field, messages in error.message_dict.items())
            self.stderr.write(f"cannot create rater {options['username']!r}: {problems}")
            sys.exit(2)
        verb = "created" if result.user_created else "reused"
        self.stdout.write(f"{verb} user {result.user.get_username()!r}; "
                          f"{result.membership.role} in {campaign.slug!r}")
        self.stdout.write(result.token)
