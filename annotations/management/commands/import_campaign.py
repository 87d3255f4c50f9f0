"""manage.py import_campaign SPEC OUTPUTS: create a campaign from a spec and its outputs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from annotations.services import ImportFailed, campaign_import


class Command(BaseCommand):
    # A data command: skip the system checks (they import every view, ~2 s per run).
    requires_system_checks: list[str] = []
    help = "Create a campaign from SPEC (JSON/YAML) and OUTPUTS (JSONL/CSV); all or nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("spec", type=Path)
        parser.add_argument("outputs", type=Path)
        parser.add_argument("--format", choices=["jsonl", "csv"], default=None,
                            help="format of OUTPUTS when its extension does not say")

    def handle(self, *args: Any, **options: Any) -> None:
        spec: Path = options["spec"]
        outputs: Path = options["outputs"]
        for path in (spec, outputs):
            if not path.is_file():
                self.stderr.write(f"{path}: no such file")
                sys.exit(2)
        try:
            with spec.open("rb") as spec_stream, outputs.open("rb") as outputs_stream:
                result = campaign_import(
                    spec_stream=spec_stream, spec_name=spec.name,
                    outputs_stream=outputs_stream, outputs_name=outputs.name,
                    outputs_format=options["format"],
                )
        except ImportFailed as failure:
            for line in failure.lines:
                self.stderr.write(line)
            sys.exit(2)
        self.stdout.write(
            f"imported campaign {result.campaign.slug!r}: {result.systems} systems, "
            f"{result.items} items, {result.outputs} outputs"
        )
