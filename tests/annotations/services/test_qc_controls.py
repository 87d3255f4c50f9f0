"""qc_degraded_create and qc_repeats_create: seeded, spread, never twice, all or nothing."""

from __future__ import annotations

from collections import Counter

import pytest

from annotations.models import Campaign, Item, Output
from annotations.qc_text import replaced_span_length
from annotations.services import QcError, qc_degraded_create, qc_repeats_create
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    ItemFactory,
    OutputFactory,
    SystemFactory,
    UserFactory,
)
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango").split()


def make_campaign(items: int = 6, systems: int = 3, *, text=None, **fields) -> Campaign:
    """items × systems outputs with distinct multi-word texts."""
    campaign = CampaignFactory(**fields)
    CriterionFactory(campaign=campaign, key="fluency")
    sys_rows = [SystemFactory(campaign=campaign, name=f"s{j}") for j in range(systems)]
    for i in range(items):
        item = ItemFactory(campaign=campaign, external_id=f"q{i}", input=f"question {i}?",
                           references=[f"reference {i}"])
        for j, system in enumerate(sys_rows):
            words = WORDS[(i + j) % len(WORDS):] + WORDS[:(i + j) % len(WORDS)]
            OutputFactory(item=item, system=system,
                          text=text if text is not None else " ".join(words[:8 + i + j]))
    return campaign


def copies(campaign: Campaign, kind: str) -> list[Output]:
    return list(Output.objects.filter(item__campaign=campaign, item__qc_kind=kind)
                .select_related("item", "qc_source__item", "system", "qc_source__system")
                .order_by("item__external_id"))


def signature(campaign: Campaign, kind: str) -> list[tuple]:
    return sorted((o.item.external_id, o.qc_source.item.external_id, o.system.name,
                   o.qc_method, o.text) for o in copies(campaign, kind))


def test_degraded_copies_are_qc_items_of_the_source_system_with_changed_text():
    campaign = make_campaign()
    admin = UserFactory(username="boss")

    made = qc_degraded_create(campaign=campaign, count=6, seed=1, by=admin)

    assert made == 6
    outputs = copies(campaign, "degraded")
    assert sorted(o.item.external_id for o in outputs) == [f"qc-degraded-{n}" for n in
                                                           range(1, 7)]
    for output in outputs:
        source = output.qc_source
        assert source.qc_source_id is None and source.item.qc_kind == ""
        assert output.system_id == source.system_id
        assert output.item.input == source.item.input
        assert output.item.references == source.item.references
        assert output.item.outputs.count() == 1
        assert output.qc_method in ("shuffle", "truncate", "replace")
        assert output.text.split() != source.text.split()
        assert output.item.metadata["qc"] == {"seed": 1, "by": "boss",
                                              "source_item": source.item.external_id}


def test_copies_spread_over_systems_items_and_methods():
    campaign = make_campaign(items=6, systems=3)

    qc_degraded_create(campaign=campaign, count=6, seed=3)

    outputs = copies(campaign, "degraded")
    assert Counter(o.system.name for o in outputs) == {"s0": 2, "s1": 2, "s2": 2}
    assert Counter(o.qc_method for o in outputs) == {"shuffle": 2, "truncate": 2, "replace": 2}
    assert len({o.qc_source.item_id for o in outputs}) == 6
    for system in ("s0", "s1", "s2"):  # each system gets two different methods
        assert len({o.qc_method for o in outputs if o.system.name == system}) == 2


def test_each_method_changes_the_text_its_own_way():
    campaign = make_campaign()

    qc_degraded_create(campaign=campaign, count=9, seed=5)

    others = [o.text.split() for o in Output.objects.filter(item__campaign=campaign,
                                                            qc_source__isnull=True)]
    for output in copies(campaign, "degraded"):
        words, copy = output.qc_source.text.split(), output.text.split()
        if output.qc_method == "shuffle":
            assert Counter(copy) == Counter(words)
        elif output.qc_method == "truncate":
            assert copy == words[:len(copy)] and 0 < len(copy) < len(words)
        else:  # replace: a run of words from an output of another item
            span = replaced_span_length(len(words))
            changed = [i for i, (a, b) in enumerate(zip(words, copy, strict=True)) if a != b]
            assert changed and changed[-1] - changed[0] < span
            donors = [t for o, t in zip(Output.objects.filter(
                item__campaign=campaign, qc_source__isnull=True).order_by("pk"),
                others, strict=True) if o.item_id != output.qc_source.item_id]
            runs = {tuple(d[i:i + span]) for d in donors for i in range(len(d) - span + 1)}
            assert any(tuple(copy[s:s + span]) in runs
                       for s in range(max(0, changed[-1] - span + 1), changed[0] + 1))


def test_the_same_seed_makes_the_same_copies():
    campaign = make_campaign()
    qc_degraded_create(campaign=campaign, count=5, seed=11)
    first = signature(campaign, "degraded")
    Item.objects.filter(campaign=campaign, qc_kind="degraded").delete()

    qc_degraded_create(campaign=campaign, count=5, seed=11)

    assert signature(campaign, "degraded") == first


def test_a_source_never_gets_two_copies_by_one_method_and_copies_are_never_sources():
    campaign = make_campaign(items=2, systems=2)  # 4 outputs x 3 methods = 12 copies at most

    assert qc_degraded_create(campaign=campaign, count=7, seed=1) == 7
    assert qc_degraded_create(campaign=campaign, count=5, seed=2) == 5

    outputs = copies(campaign, "degraded")
    assert len({(o.qc_source_id, o.qc_method) for o in outputs}) == 12
    assert all(o.qc_source.qc_source_id is None for o in outputs)
    before = row_counts()
    with pytest.raises(QcError, match=r"only 0 more degraded copies .* asked for 1"):
        qc_degraded_create(campaign=campaign, count=1, seed=3)
    assert row_counts() == before


def test_asking_for_more_than_can_be_made_writes_nothing():
    campaign = make_campaign(items=2, systems=2)
    before = row_counts()

    with pytest.raises(QcError, match=r"only 4 more degraded copies \(shuffle\) can be made"):
        qc_degraded_create(campaign=campaign, count=5, methods=("shuffle",), seed=1)

    assert row_counts() == before


def test_control_items_and_repeats_are_never_sources():
    campaign = make_campaign(items=1, systems=3)
    real, *controls = Output.objects.filter(item__campaign=campaign).order_by("pk")
    for control in controls:
        control.control = {"fluency": [1, 2]}
        control.save()

    qc_repeats_create(campaign=campaign, count=1, seed=1)
    qc_degraded_create(campaign=campaign, count=1, methods=("truncate",), seed=1)

    assert {o.qc_source_id for o in Output.objects.filter(qc_source__isnull=False)} == {real.pk}
    with pytest.raises(QcError, match="only 0 more"):
        qc_degraded_create(campaign=campaign, count=1, methods=("truncate",), seed=2)


def test_single_word_outputs_can_only_get_a_replaced_word():
    campaign = make_campaign(items=3, systems=1, text="")
    for n, output in enumerate(Output.objects.filter(item__campaign=campaign)):
        output.text = f"word{n}"
        output.save()

    with pytest.raises(QcError, match="only 0 more"):
        qc_degraded_create(campaign=campaign, count=1, methods=("shuffle", "truncate"), seed=1)
    made = qc_degraded_create(campaign=campaign, count=3, seed=1)

    assert made == 3
    assert {o.qc_method for o in copies(campaign, "degraded")} == {"replace"}
    assert all(o.text != o.qc_source.text and o.text.startswith("word")
               for o in copies(campaign, "degraded"))


def test_external_ids_skip_ones_already_taken():
    campaign = make_campaign(items=2, systems=1)
    ItemFactory(campaign=campaign, external_id="qc-degraded-1")
    ItemFactory(campaign=campaign, external_id="qc-degraded-3")

    qc_degraded_create(campaign=campaign, count=2, seed=1)

    assert sorted(o.item.external_id for o in copies(campaign, "degraded")) == [
        "qc-degraded-2", "qc-degraded-4"]


def test_repeats_are_exact_copies_made_once_per_source():
    campaign = make_campaign(items=2, systems=2)
    admin = UserFactory(username="boss")

    assert qc_repeats_create(campaign=campaign, count=3, seed=4, by=admin) == 3

    outputs = copies(campaign, "repeat")
    assert [o.item.external_id for o in outputs] == ["qc-repeat-1", "qc-repeat-2", "qc-repeat-3"]
    assert all(o.text == o.qc_source.text and o.qc_method == "repeat"
               and o.system_id == o.qc_source.system_id
               and o.item.input == o.qc_source.item.input for o in outputs)
    assert len({o.qc_source_id for o in outputs}) == 3
    before = row_counts()
    with pytest.raises(QcError, match=r"only 1 more outputs can be repeated .* asked for 2"):
        qc_repeats_create(campaign=campaign, count=2, seed=5)
    assert row_counts() == before
    assert qc_repeats_create(campaign=campaign, count=1, seed=5) == 1


@pytest.mark.parametrize("count", [0, -2, 2.5, "3", True, None])
@pytest.mark.parametrize("create", [qc_degraded_create, qc_repeats_create])
def test_a_bad_count_is_refused_and_nothing_is_written(create, count):
    campaign = make_campaign(items=2, systems=1)
    before = row_counts()

    with pytest.raises(QcError, match="count must be a whole number of at least 1"):
        create(campaign=campaign, count=count, seed=1)

    assert row_counts() == before


@pytest.mark.parametrize("create", [qc_degraded_create, qc_repeats_create])
def test_a_campaign_without_outputs_is_refused(create):
    campaign = CampaignFactory(slug="empty")

    with pytest.raises(QcError, match="campaign 'empty' has no outputs to copy"):
        create(campaign=campaign, count=1, seed=1)


@pytest.mark.parametrize("create", [qc_degraded_create, qc_repeats_create])
def test_pairwise_campaigns_are_refused(create):
    campaign = make_campaign(items=2, systems=2, kind=Campaign.Kind.PAIRWISE)
    before = row_counts()

    with pytest.raises(QcError, match="pairwise"):
        create(campaign=campaign, count=1, seed=1)

    assert row_counts() == before


@pytest.mark.parametrize("methods", [(), ("shuffle", "blur")])
def test_unknown_methods_are_refused(methods):
    campaign = make_campaign(items=2, systems=1)

    with pytest.raises(QcError, match="unknown degradation method"):
        qc_degraded_create(campaign=campaign, count=1, methods=methods, seed=1)

    assert not Item.objects.filter(qc_kind="degraded").exists()
