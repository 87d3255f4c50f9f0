"""Pairwise campaigns in the report: wins/losses/ties, win rates with bootstrap intervals,
sign tests and per-criterion preferences, checked against scipy called directly."""

from __future__ import annotations

import itertools
import json
import zlib
from collections import Counter
from typing import Any

import numpy as np
import pytest
from scipy import stats

from annotations.models import Campaign, CampaignMembership, Item, Output, QcKind, Rating
from metrics.services import report_build
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    ItemFactory,
    MembershipFactory,
    OutputFactory,
    SystemFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SYSTEMS = ("base", "ft-a", "ft-b")  # report order: the baseline, then by name
RATERS = ("ann", "bo", "cy")
CRITERIA = ("fluency", "accuracy")
CHOICES = ("A", "B", "tie")


def pairwise_campaign(seed: int = 5, items: int = 8) -> tuple[Campaign, list[dict[str, Any]]]:
    """Every rater judges every pair of every item once, sides and choices random (seeded).

    Returns the campaign and the judgments as (item, system shown as A, as B, rater, choice,
    preferences) dicts; a few judgments carry no preference for a criterion.
    """
    rng = np.random.default_rng(seed)
    campaign = CampaignFactory(kind=Campaign.Kind.PAIRWISE, slug="duel")
    for position, key in enumerate(CRITERIA):
        CriterionFactory(campaign=campaign, key=key, position=position)
    systems = [SystemFactory(campaign=campaign, name=n, is_baseline=n == "base") for n in SYSTEMS]
    users = [UserFactory(username=n) for n in RATERS]
    for user in users:
        MembershipFactory(campaign=campaign, user=user)
    judgments = []
    for i in range(items):
        item = ItemFactory(campaign=campaign, external_id=f"q{i}")
        outputs = [OutputFactory(item=item, system=s, text=f"{s.name} {i}") for s in systems]
        for (a, b), user in itertools.product(itertools.combinations(outputs, 2), users):
            if rng.random() < 0.5:
                a, b = b, a
            # ft-b is preferred more often, so the numbers are not symmetric
            weights = [0.45, 0.35, 0.2] if a.system.name == "ft-b" else [0.3, 0.5, 0.2]
            choice = str(rng.choice(CHOICES, p=weights))
            prefs = {k: str(rng.choice(CHOICES)) for k in CRITERIA if rng.random() < 0.85}
            Rating.objects.create(rater=user, output=a, output_b=b, choice=choice,
                                  preferences=prefs)
            judgments.append({"item": f"q{i}", "a": a.system.name, "b": b.system.name,
                              "rater": user.username, "choice": choice, "preferences": prefs})
    return campaign, judgments


def add_noise(campaign: Campaign) -> None:
    """Judgments that must not count: on a degraded copy, on a control item, by an excluded
    rater; all prefer the baseline."""
    base = campaign.systems.get(name="base")
    ft = campaign.systems.get(name="ft-a")
    real = Output.objects.get(item__external_id="q0", system=ft)
    degraded = Item.objects.create(campaign=campaign, external_id="deg", qc_kind=QcKind.DEGRADED)
    control = Item.objects.create(campaign=campaign, external_id="ctl")
    pairs = [
        (Output.objects.create(item=degraded, system=base, text="x"),
         Output.objects.create(item=degraded, system=ft, text="y", qc_source=real,
                               qc_method="shuffle")),
        (Output.objects.create(item=control, system=base, text="x", control={}),
         Output.objects.create(item=control, system=ft, text="y")),
    ]
    spammer = UserFactory(username="spammer")
    MembershipFactory(campaign=campaign, user=spammer, excluded=True)
    ann = campaign.memberships.get(user__username="ann").user
    for a, b in pairs:
        Rating.objects.create(rater=ann, output=a, output_b=b, choice="A",
                              preferences={"fluency": "A"})
    for a, b in itertools.combinations(Output.objects.filter(item__external_id="q1"), 2):
        first, second = (a, b) if a.system.name == "base" else (b, a)
        Rating.objects.create(rater=spammer, output=first, output_b=second,
                              choice="A" if first.system.name == "base" else "B",
                              preferences={"fluency": "A", "accuracy": "A"})


def outcomes(judgments: list[dict[str, Any]], x: str, y: str, field: str = "choice",
             key: str | None = None) -> tuple[int, int, int]:
    """x's wins, x's losses and ties against y."""
    tally: Counter[str] = Counter()
    for j in judgments:
        choice = j[field] if key is None else j["preferences"].get(key)
        if choice is None or {j["a"], j["b"]} != {x, y}:
            continue
        if choice == "tie":
            tally["tie"] += 1
        else:
            tally["win" if (j["a"] if choice == "A" else j["b"]) == x else "loss"] += 1
    return tally["win"], tally["loss"], tally["tie"]


@pytest.fixture
def duel() -> tuple[Campaign, list[dict[str, Any]]]:
    campaign, judgments = pairwise_campaign()
    add_noise(campaign)
    return campaign, judgments


def test_pairs_count_wins_losses_ties_with_a_scipy_binomtest_p_value(duel):
    campaign, judgments = duel
    report = report_build(campaign=campaign, n_resamples=200)
    pairs = report["pairwise"]["pairs"]
    assert [(p["system_a"], p["system_b"]) for p in pairs] == list(
        itertools.combinations(SYSTEMS, 2))
    for pair in pairs:
        wins, losses, ties = outcomes(judgments, pair["system_a"], pair["system_b"])
        assert (pair["wins_a"], pair["wins_b"], pair["ties"]) == (wins, losses, ties)
        assert pair["judgments"] == wins + losses + ties == 8 * len(RATERS)
        assert pair["win_rate_a"] == pytest.approx((wins + ties / 2) / (wins + losses + ties))
        expected = stats.binomtest(wins, wins + losses, 0.5, alternative="two-sided").pvalue
        assert pair["p_value"] == pytest.approx(expected, abs=1e-15)


def test_system_win_rate_counts_ties_half_with_a_scipy_bootstrap_interval(duel):
    campaign, judgments = duel
    report = report_build(campaign=campaign, n_resamples=200, seed=9)
    assert report["pairwise"]["judgments"] == len(judgments)
    for entry in report["pairwise"]["systems"]:
        name = entry["name"]
        totals = np.sum([outcomes(judgments, name, other) for other in SYSTEMS if other != name],
                        axis=0)
        wins, losses, ties = (int(v) for v in totals)
        assert (entry["wins"], entry["losses"], entry["ties"]) == (wins, losses, ties)
        assert entry["win_rate"] == pytest.approx((wins + 0.5 * ties) / (wins + losses + ties))
        # the documented interval: scipy's percentile bootstrap over the judgments' scores
        # (1 win, 0 loss, 0.5 tie, in that order), seeded by [seed, "pairwise", system name]
        scores = np.concatenate([np.ones(wins), np.zeros(losses), np.full(ties, 0.5)])
        rng = np.random.default_rng([9, zlib.crc32(b"pairwise"), zlib.crc32(name.encode())])
        interval = stats.bootstrap((scores,), np.mean, confidence_level=0.95, n_resamples=200,
                                   method="percentile", rng=rng).confidence_interval
        assert entry["ci_low"] == pytest.approx(interval.low, abs=1e-12)
        assert entry["ci_high"] == pytest.approx(interval.high, abs=1e-12)
        assert entry["ci_low"] <= entry["win_rate"] <= entry["ci_high"]


def test_per_criterion_preference_counts_come_from_rating_preferences(duel):
    campaign, judgments = duel
    report = report_build(campaign=campaign, n_resamples=50)
    criteria = report["pairwise"]["criteria"]
    assert set(criteria) == set(CRITERIA)
    for key in CRITERIA:
        assert criteria[key]["judgments"] == sum(key in j["preferences"] for j in judgments)
        for pair in criteria[key]["pairs"]:
            expected = outcomes(judgments, pair["system_a"], pair["system_b"], key=key)
            assert (pair["prefer_a"], pair["prefer_b"], pair["ties"]) == expected
        for entry in criteria[key]["systems"]:
            totals = np.sum([outcomes(judgments, entry["name"], o, key=key)
                             for o in SYSTEMS if o != entry["name"]], axis=0)
            assert (entry["preferred"], entry["not_preferred"], entry["ties"]) == \
                tuple(int(v) for v in totals)


def test_undefined_pairwise_numbers_are_null_with_a_reason():
    # given a pairwise campaign where base and ft only ever tie, and ft-b was never judged
    campaign = CampaignFactory(kind=Campaign.Kind.PAIRWISE)
    systems = [SystemFactory(campaign=campaign, name=n, is_baseline=n == "base") for n in SYSTEMS]
    item = ItemFactory(campaign=campaign)
    a, b = (OutputFactory(item=item, system=s) for s in systems[:2])
    Rating.objects.create(rater=UserFactory(), output=a, output_b=b, choice="tie")

    report = report_build(campaign=campaign, n_resamples=50)

    pairs = {(p["system_a"], p["system_b"]): p for p in report["pairwise"]["pairs"]}
    tie_only = pairs[("base", "ft-a")]
    assert tie_only["ties"] == 1 and tie_only["p_value"] is None and tie_only["reason"]
    never = pairs[("base", "ft-b")]
    assert never["judgments"] == 0 and never["win_rate_a"] is None and never["reason"]
    systems_ = {s["name"]: s for s in report["pairwise"]["systems"]}
    assert systems_["ft-b"]["win_rate"] is None and systems_["ft-b"]["reason"] == "no judgments"
    single = systems_["base"]
    assert single["win_rate"] == 0.5 and single["ci_low"] is None and single["reason"]
    json.dumps(report, allow_nan=False)


def test_rating_campaigns_have_a_null_pairwise_section():
    campaign = CampaignFactory()
    assert report_build(campaign=campaign, n_resamples=50)["pairwise"] is None


def test_excluded_membership_flag_is_what_leaves_a_rater_out(duel):
    campaign, judgments = duel
    # when the admin includes the spammer again, their judgments count
    CampaignMembership.objects.filter(user__username="spammer").update(excluded=False)
    report = report_build(campaign=campaign, n_resamples=50)
    assert report["pairwise"]["judgments"] == len(judgments) + 3


def test_choice_agreement_is_krippendorff_nominal_on_choices_turned_to_one_side(duel):
    import krippendorff

    campaign, judgments = duel
    report = report_build(campaign=campaign, n_resamples=50)

    # units: an item's pair of systems; value: the earlier system's win (1), loss (-1), tie (0)
    units = sorted({(j["item"], *sorted((j["a"], j["b"]), key=SYSTEMS.index))
                    for j in judgments})
    matrix = np.full((len(RATERS), len(units)), np.nan)
    for j in judgments:
        first, second = sorted((j["a"], j["b"]), key=SYSTEMS.index)
        wins, losses, _ = outcomes([j], first, second)
        matrix[RATERS.index(j["rater"]), units.index((j["item"], first, second))] = wins - losses
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    agreement = report["pairwise"]["agreement"]
    assert agreement["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
    assert agreement["level"] == "nominal" and agreement["units"] == len(units)


def test_pairwise_report_query_count_does_not_grow_with_the_judgments():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small, _ = pairwise_campaign(items=1)
    small_queries = CaptureQueriesContext(connection)
    with small_queries:
        report_build(campaign=small, n_resamples=20)
    Campaign.objects.filter(pk=small.pk).update(slug="small")
    large, judgments = pairwise_campaign(items=12, seed=8)
    with CaptureQueriesContext(connection) as large_queries:
        report_build(campaign=large, n_resamples=20)
    assert len(judgments) == 12 * 3 * len(RATERS)
    assert len(large_queries) == len(small_queries)
