"""manage.py seed_demo: a demo campaign, a demo admin and three raters (logins printed)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from annotations.services.demo import demo_seed


class Command(BaseCommand):
    help = "Create the demo campaign (once) and print fresh logins for its admin and raters."

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = demo_seed()
        campaign = accounts.campaign
        items = campaign.items.filter(qc_kind="").count()
        copies = campaign.items.count() - items
        self.stdout.write(f"demo campaign {campaign.slug!r}: {items} items, "
                          f"{campaign.systems.count()} systems, {copies} quality-control copies")
        self.stdout.write(f"pairwise demo campaign {accounts.pairwise.slug!r}: the same outputs, "
                          f"judged two at a time")
        self.stdout.write(f"admin login:  {accounts.admin[0]} / {accounts.admin[1]}")
        for username, password in accounts.raters:
            self.stdout.write(f"rater login:  {username} / {password}")
