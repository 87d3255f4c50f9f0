"""qc_rater_stats: per-rater QC figures (checked against numpy/scipy on the same data) and
flags that need enough evidence."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from scipy.stats import wilcoxon

from annotations.models import Campaign, CampaignMembership, Output, Rating, RatingValue
from annotations.selectors_qc import (
    FLAG_CONTROLS,
    FLAG_DEGRADED,
    FLAG_FAST,
    FLAG_REPEATS,
    NOT_ENOUGH,
    qc_rater_stats,
    qc_settings_get,
)
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

# Per rater: (original scores, copy scores) per pair, as (fluency, accuracy).
GOOD_DEGRADED = [((5, 4), (2, 1)), ((4, 4), (3, 3)), ((5, 5), (1, 2)), ((3, 4), (3, 3)),
                 ((4, 3), (2, 2)), ((5, 4), (4, 4))]
BAD_DEGRADED = [((4, 4), (4, 4)), ((3, 3), (3, 4)), ((5, 4), (5, 4)), ((4, 4), (4, 3)),
                ((3, 4), (4, 4)), ((4, 4), (4, 4))]
GOOD_REPEATS = [((4, 4), (4, 4)), ((3, 5), (4, 5)), ((2, 2), (2, 3))]
BAD_REPEATS = [((5, 5), (2, 3)), ((1, 2), (4, 4)), ((3, 3), (3, 1))]
# Controls: fluency must be 1-2 (and accuracy 1-1 on the last two).
CONTROLS = [{"fluency": [1, 2]}, {"fluency": [1, 2]}, {"fluency": [1, 2], "accuracy": [1, 1]},
            {"fluency": [1, 2], "accuracy": [1, 1]}]
GOOD_CONTROLS = [(1, 3), (2, 5), (1, 1), (2, 1)]  # all pass
BAD_CONTROLS = [(3, 3), (2, 5), (1, 2), (4, 1)]  # only the second passes
GOOD_MS = [4100, 2500, 9000, 3300, 6100]
BAD_MS = [900, 1200, 400, 1500, 800, 1100]


class World:
    """A rating campaign with degraded copies, repeats and control items."""

    def __init__(self, slug: str = "qc", **options):
        self.campaign = CampaignFactory(slug=slug, options=options)
        self.fluency = CriterionFactory(campaign=self.campaign, key="fluency")
        self.accuracy = CriterionFactory(campaign=self.campaign, key="accuracy")
        self.system = SystemFactory(campaign=self.campaign, name="ft")
        self.n = 0
        self.degraded = [self.copy("degraded", "shuffle") for _ in range(6)]
        self.repeats = [self.copy("repeat", "repeat") for _ in range(3)]
        self.controls = [self.output(control=c) for c in CONTROLS]

    def output(self, **fields) -> Output:
        self.n += 1
        item = ItemFactory(campaign=self.campaign, external_id=f"{self.campaign.slug}{self.n}",
                           qc_kind=fields.pop("qc_kind", ""))
        return OutputFactory(item=item, system=self.system, text=f"text {item.external_id}",
                             **fields)

    def copy(self, kind: str, method: str) -> tuple[Output, Output]:
        source = self.output()
        return source, self.output(qc_kind=kind, qc_source=source, qc_method=method)

    def rater(self, name: str, **fields):
        return MembershipFactory(campaign=self.campaign, user=UserFactory(username=name),
                                 **fields).user

    def rate(self, user, output: Output, scores, ms: int | None = None, **fields) -> Rating:
        rating = Rating.objects.create(rater=user, output=output, time_spent_ms=ms, **fields)
        for criterion, value in zip((self.fluency, self.accuracy), scores, strict=False):
            if value is not None:
                RatingValue.objects.create(rating=rating, criterion=criterion, value=value)
        return rating

    def rate_pairs(self, user, copies, pairs) -> None:
        for (source, copy), (original, copied) in zip(copies, pairs, strict=False):
            self.rate(user, source, original)
            self.rate(user, copy, copied)


def by_name(campaign: Campaign):
    return {r.rater: r for r in qc_rater_stats(campaign=campaign)}


@pytest.fixture
def world() -> World:
    world = World()
    alice, bob = world.rater("alice"), world.rater("bob")
    for user, degraded, repeats, controls in ((alice, GOOD_DEGRADED, GOOD_REPEATS,
                                               GOOD_CONTROLS),
                                              (bob, BAD_DEGRADED, BAD_REPEATS, BAD_CONTROLS)):
        world.rate_pairs(user, world.degraded, degraded)
        world.rate_pairs(user, world.repeats, repeats)
        for output, scores in zip(world.controls, controls, strict=True):
            world.rate(user, output, scores)
    extra = [world.output() for _ in range(max(len(GOOD_MS), len(BAD_MS)))]
    for user, times in ((alice, GOOD_MS), (bob, BAD_MS)):
        for output, ms in zip(extra, times, strict=False):
            world.rate(user, output, (3, 3), ms)
    return world


def expected_degraded(pairs):
    diffs = np.array([np.mean(o) - np.mean(c) for o, c in pairs])
    p = wilcoxon(diffs, alternative="greater", zero_method="zsplit").pvalue
    return diffs, p


def expected_repeat_diff(pairs):
    return np.mean([np.mean(np.abs(np.subtract(a, b))) for a, b in pairs])


def test_figures_match_numpy_and_scipy_on_the_same_data(world):
    stats = by_name(world.campaign)

    for name, degraded, repeats, passed, times in (
        ("alice", GOOD_DEGRADED, GOOD_REPEATS, 4, GOOD_MS),
        ("bob", BAD_DEGRADED, BAD_REPEATS, 1, BAD_MS),
    ):
        row = stats[name]
        diffs, p = expected_degraded(degraded)
        assert row.degraded_pairs == 6
        assert row.degraded_detected == int(np.sum(diffs > 0))
        assert row.degraded_p_value == pytest.approx(p)
        assert row.repeat_pairs == 3
        assert row.repeat_mean_abs_diff == pytest.approx(expected_repeat_diff(repeats))
        assert (row.control_seen, row.control_passed) == (4, passed)
        assert row.control_pass_rate == pytest.approx(passed / 4)
        assert row.median_seconds == pytest.approx(np.median(times) / 1000)
        assert row.ratings == 6 * 2 + 3 * 2 + 4 + len(times)
        assert row.excluded is False


def test_a_careless_rater_is_flagged_on_every_check_and_a_careful_one_on_none(world):
    stats = by_name(world.campaign)

    assert stats["alice"].flags == []
    assert not stats["alice"].flagged
    assert stats["bob"].flags == [FLAG_CONTROLS, FLAG_DEGRADED, FLAG_REPEATS, FLAG_FAST]
    assert stats["bob"].flagged


def test_too_little_evidence_is_a_note_not_a_flag(world):
    carol = world.rater("carol")
    world.rate_pairs(carol, world.degraded[:2], BAD_DEGRADED[:2])
    world.rate(carol, world.controls[0], (5, 5))  # a failed control
    world.rate(carol, world.controls[1], (None, 3))  # no fluency value: not judged, not seen
    world.rate(carol, world.controls[3], (None, 4))  # accuracy out of range: judged, fails
    world.rate(carol, world.output(), (3, 3), 100)

    carol_row = by_name(world.campaign)["carol"]

    assert carol_row.flags == [NOT_ENOUGH]
    assert not carol_row.flagged
    assert (carol_row.control_seen, carol_row.control_passed) == (2, 0)
    assert carol_row.degraded_p_value == pytest.approx(expected_degraded(BAD_DEGRADED[:2])[1])
    assert carol_row.repeat_pairs == 0 and carol_row.repeat_mean_abs_diff is None


def test_raters_without_ratings_and_excluded_raters_are_listed(world):
    world.rater("dave")
    world.rater("eve", excluded=True)

    stats = by_name(world.campaign)

    assert list(stats) == ["alice", "bob", "dave", "eve"]
    assert stats["eve"].excluded is True
    dave = stats["dave"]
    assert (dave.ratings, dave.median_seconds, dave.control_pass_rate,
            dave.degraded_p_value) == (0, None, None, None)
    assert dave.flags == [NOT_ENOUGH]


def test_the_degraded_test_waits_until_it_can_reject_at_alpha():
    # One-sided signed-rank: the smallest p-value of n pairs is 2^-n (scipy agrees below), so
    # at alpha 0.05 four pairs can never show detection and 5 are needed before flagging.
    assert wilcoxon([1, 2, 3, 4], alternative="greater").pvalue == pytest.approx(1 / 16)
    assert wilcoxon([1, 2, 3, 4, 5], alternative="greater").pvalue == pytest.approx(1 / 32)
    world = World()
    perfect, tied = world.rater("perfect"), world.rater("tied")
    world.rate_pairs(perfect, world.degraded[:4], GOOD_DEGRADED[:1] * 4)
    world.rate_pairs(tied, world.degraded[:4], [((4, 4), (4, 4))] * 4)

    stats = by_name(world.campaign)

    assert stats["perfect"].flags == stats["tied"].flags == [NOT_ENOUGH]
    world.campaign.options = {"qc": {"degraded_alpha": 0.1}}  # 2^-4 < 0.1: 4 pairs suffice
    world.campaign.save()
    stats = by_name(world.campaign)
    assert stats["perfect"].flags == [NOT_ENOUGH]  # controls and repeats still unseen
    assert stats["tied"].flags == [FLAG_DEGRADED, NOT_ENOUGH]


def test_thresholds_come_from_the_campaign_options(world):
    world.campaign.options = {"qc": {"min_pass_rate": 0.25, "max_repeat_diff": 3,
                                     "min_median_seconds": 0.5, "degraded_alpha": 0.8}}
    world.campaign.save()

    stats = by_name(world.campaign)

    # bob: pass rate 0.25 is not below 0.25; repeat diff < 3; median 0.95 s > 0.5 s; and his
    # degraded p-value is still >= 0.8.
    assert stats["bob"].degraded_p_value >= 0.8
    assert stats["bob"].flags == [FLAG_DEGRADED]


def test_settings_ignore_values_that_are_not_numbers():
    campaign = CampaignFactory(options={"qc": {"min_qc_items": "many", "min_pass_rate": 0.5,
                                               "degraded_alpha": True}})

    settings = qc_settings_get(campaign=campaign)

    assert settings["min_qc_items"] == 3 and settings["degraded_alpha"] == 0.05
    assert settings["min_pass_rate"] == 0.5


def test_a_campaign_without_qc_items_flags_only_speed():
    campaign = CampaignFactory()
    criterion = CriterionFactory(campaign=campaign, key="fluency")
    fast, slow = (MembershipFactory(campaign=campaign, user=UserFactory(username=n)).user
                  for n in ("fast", "slow"))
    for i in range(3):
        output = OutputFactory(item=ItemFactory(campaign=campaign))
        for user, ms in ((fast, 500 + i), (slow, 5000 + i)):
            rating = Rating.objects.create(rater=user, output=output, time_spent_ms=ms)
            RatingValue.objects.create(rating=rating, criterion=criterion, value=3)

    stats = by_name(campaign)

    assert stats["fast"].flags == [FLAG_FAST]
    assert stats["slow"].flags == []
    assert stats["fast"].median_seconds == pytest.approx(np.median([500, 501, 502]) / 1000)


def test_pairwise_ratings_do_not_count_as_copy_or_control_judgments(world):
    zed = world.rater("zed")
    for (source, copy), other in zip(world.degraded, world.controls, strict=False):
        world.rate(zed, source, (5, 5), output_b=other, choice="A")
        world.rate(zed, copy, (1, 1), output_b=other, choice="B")

    row = by_name(world.campaign)["zed"]

    assert (row.degraded_pairs, row.control_seen, row.ratings) == (0, 0, 8)


def test_each_campaign_counts_only_its_own_ratings(world):
    other = World(slug="other")
    alice = CampaignMembership.objects.get(campaign=world.campaign, user__username="alice").user
    MembershipFactory(campaign=other.campaign, user=alice)
    other.rate_pairs(alice, other.degraded, BAD_DEGRADED)

    here, there = by_name(world.campaign)["alice"], by_name(other.campaign)["alice"]

    assert here.degraded_p_value == pytest.approx(expected_degraded(GOOD_DEGRADED)[1])
    assert there.degraded_p_value == pytest.approx(expected_degraded(BAD_DEGRADED)[1])
    assert (there.ratings, there.control_seen, there.repeat_pairs) == (12, 0, 0)
    assert list(by_name(other.campaign)) == ["alice"]


def test_the_number_of_queries_does_not_grow_with_the_raters(world):
    with CaptureQueriesContext(connection) as two:
        qc_rater_stats(campaign=world.campaign)
    for n in range(6):
        user = world.rater(f"extra{n}")
        world.rate_pairs(user, world.degraded, GOOD_DEGRADED)
        world.rate(user, world.controls[0], (1, 1), 3000)

    with CaptureQueriesContext(connection) as eight:
        stats = qc_rater_stats(campaign=world.campaign)

    assert len(stats) == 8
    assert len(eight.captured_queries) == len(two.captured_queries) <= 8


@pytest.mark.postgres
def test_postgres_median_matches_numpy():
    if connection.vendor != "postgresql":
        pytest.skip("the percentile_cont path runs on PostgreSQL")
    world = World()
    user = world.rater("timed")
    times = [1200, 3400, 800, 5000]  # an even count: the median interpolates
    for ms in times:
        world.rate(user, world.output(), (3, 3), ms)
    world.rate(user, world.output(), (3, 3), None)

    row = by_name(world.campaign)["timed"]

    assert row.median_seconds == pytest.approx(np.median(times) / 1000)
    assert row.ratings == 5


@pytest.mark.parametrize("pairs", [[((4, 4), (4, 4))], [((5, 4), (1, 1))]])
def test_a_single_pair_has_no_p_value(pairs):
    world = World()
    user = world.rater("once")
    world.rate_pairs(user, world.degraded[:1], pairs)

    row = by_name(world.campaign)["once"]

    assert (row.degraded_pairs, row.degraded_p_value) == (1, None)
    assert row.degraded_detected == int(np.mean(pairs[0][0]) > np.mean(pairs[0][1]))


def test_outputs_read_in_chunks_give_the_same_figures(world, monkeypatch):
    whole = qc_rater_stats(campaign=world.campaign)
    monkeypatch.setattr("annotations.selectors_qc.ID_CHUNK", 2)

    assert qc_rater_stats(campaign=world.campaign) == whole
