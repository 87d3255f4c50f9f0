"""qc_controls and qc_report: thin callers of the QC services, exit 2 on bad input."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from annotations.models import Item, Output, Rating, RatingValue
from annotations.selectors_qc import FLAG_FAST, qc_rater_stats
from tests.annotations.factories import (
    CriterionFactory,
    MembershipFactory,
    UserFactory,
)
from tests.annotations.services.test_qc_controls import make_campaign
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_qc_controls_adds_degraded_copies_and_repeats():
    make_campaign(items=4, systems=2, slug="demo")

    code, out, err = run("qc_controls", "demo", "--degraded", "5", "--repeats", "3",
                         "--seed", "9")

    assert (code, err) == (0, "")
    assert out.strip() == "added 5 degraded copies and 3 repeats to 'demo' (seed 9)"
    assert Item.objects.filter(qc_kind="degraded").count() == 5
    assert Item.objects.filter(qc_kind="repeat").count() == 3
    assert Output.objects.filter(qc_method="repeat").count() == 3


def test_qc_controls_takes_a_list_of_methods():
    make_campaign(items=4, systems=2, slug="demo")

    code, _, _ = run("qc_controls", "demo", "--degraded", "4", "--methods", "truncate, shuffle")

    assert code == 0
    assert set(Output.objects.filter(qc_source__isnull=False)
               .values_list("qc_method", flat=True)) == {"truncate", "shuffle"}


@pytest.mark.parametrize(("args", "message"), [
    (("nope", "--degraded", "1"), "campaign 'nope' does not exist"),
    (("demo",), "nothing to do: give --degraded N and/or --repeats M"),
    (("demo", "--degraded", "0"), "demo: count must be a whole number of at least 1, not 0"),
    (("demo", "--repeats", "-1"), "demo: count must be a whole number of at least 1, not -1"),
    (("demo", "--degraded", "1", "--methods", "blur"), "demo: unknown degradation method blur"),
    # the repeats fail after the degraded copies were made: neither is kept
    (("demo", "--degraded", "2", "--repeats", "99"), "demo: only 4 more outputs can be repeated"),
])
def test_qc_controls_bad_input_exits_2_with_one_line_and_changes_nothing(args, message):
    make_campaign(items=2, systems=2, slug="demo")
    before = row_counts()

    code, out, err = run("qc_controls", *args)

    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(message)
    assert row_counts() == before


def _timed_campaign():
    campaign = make_campaign(items=3, systems=1, slug="demo")
    criterion = CriterionFactory(campaign=campaign, key="accuracy")
    rater = MembershipFactory(campaign=campaign, user=UserFactory(username="quick")).user
    MembershipFactory(campaign=campaign, user=UserFactory(username="zoe"), excluded=True)
    for output, ms in zip(Output.objects.filter(item__campaign=campaign), (500, 700, 900),
                          strict=True):
        rating = Rating.objects.create(rater=rater, output=output, time_spent_ms=ms)
        RatingValue.objects.create(rating=rating, criterion=criterion, value=2)
    return campaign


def test_qc_report_prints_a_table_row_per_rater():
    _timed_campaign()

    code, out, _ = run("qc_report", "demo")

    assert code == 0
    header, quick, zoe = out.strip().splitlines()
    assert header.split()[:3] == ["rater", "ratings", "median"]
    assert quick.split()[:3] == ["quick", "3", "0.7"]
    assert quick.endswith(FLAG_FAST)
    assert zoe.split()[:3] == ["zoe", "0", "-"] and "yes" in zoe.split()


def test_qc_report_json_carries_every_field():
    campaign = _timed_campaign()

    code, out, _ = run("qc_report", "demo", "--json")

    assert code == 0
    payload = json.loads(out)
    assert payload["campaign"] == "demo"
    quick = payload["raters"][0]
    expected = qc_rater_stats(campaign=campaign)[0]
    assert quick["rater"] == "quick" and quick["median_seconds"] == pytest.approx(0.7)
    assert quick["flags"] == [FLAG_FAST] and quick["flagged"] is True
    assert set(quick) == {*expected.__dataclass_fields__, "flagged"}


def test_qc_report_unknown_campaign_exits_2():
    code, out, err = run("qc_report", "nope", "--json")

    assert (code, out, err.strip()) == (2, "", "campaign 'nope' does not exist")
