"""Quality-control outputs (control items, degraded and repeat copies) are left out of runs."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
import sacrebleu

from annotations.models import Output
from metrics.models import MetricValue
from metrics.services.runs import metric_run_start
from tests.annotations.factories import ItemFactory, OutputFactory
from tests.metrics.services.test_metric_runs import make_campaign, run_all

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queue() -> Iterator[mock.Mock]:
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as patched:
        yield patched


def add_qc_outputs(campaign) -> list[Output]:
    """A control item's output, a degraded copy and a repeat copy of a real output of `base`."""
    base = campaign.systems.order_by("id").first()
    real = Output.objects.filter(system=base).order_by("id").first()
    control_item = ItemFactory(campaign=campaign, external_id="ctl",
                               references=["the cat sat on the mat"])
    control = OutputFactory(item=control_item, system=base, text="cat the mat on sat the",
                            control={"fluency": [1, 2]})
    degraded_item = ItemFactory(campaign=campaign, external_id="qc-d", qc_kind="degraded",
                                references=real.item.references)
    degraded = OutputFactory(item=degraded_item, system=base, text="mat the on",
                             qc_source=real, qc_method="truncate")
    repeat_item = ItemFactory(campaign=campaign, external_id="qc-r", qc_kind="repeat",
                              references=real.item.references)
    repeat = OutputFactory(item=repeat_item, system=base, text=real.text, qc_source=real,
                           qc_method="repeat")
    return [control, degraded, repeat]


def real_texts(system) -> tuple[list[str], list[str]]:
    rows = (system.outputs.filter(control__isnull=True, item__qc_kind="").order_by("id")
            .values_list("text", "item__references"))
    return [text for text, _ in rows], [refs[0] for _, refs in rows]


def test_qc_outputs_get_no_values_and_do_not_count_in_corpus_values():
    # given 2 systems × 4 real outputs and 3 QC outputs of the baseline
    campaign = make_campaign(items=4, metrics=["bleu", "rougeL"])
    qc = add_qc_outputs(campaign)
    # when a run completes
    run = run_all(metric_run_start(campaign=campaign, chunk_size=3))
    # then only the 8 real outputs are chunked and valued
    assert (run.outputs_total, run.outputs_done) == (8, 8)
    assert not MetricValue.objects.filter(output__in=qc).exists()
    assert MetricValue.objects.filter(campaign=campaign, output__isnull=False).count() == 16
    # and each system's corpus BLEU is sacrebleu's over its real outputs only
    for system in campaign.systems.all():
        hyps, refs = real_texts(system)
        assert len(hyps) == 4
        bleu = MetricValue.objects.get(system=system, metric="bleu", output__isnull=True)
        assert bleu.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
        assert bleu.details["n"] == 4


def test_values_an_earlier_run_stored_for_qc_outputs_are_deleted_at_start():
    campaign = make_campaign(items=2, metrics=["bleu"])
    control = add_qc_outputs(campaign)[0]
    MetricValue.objects.create(campaign=campaign, system=control.system, output=control,
                               metric="bleu", value=12.0)
    metric_run_start(campaign=campaign)
    assert not MetricValue.objects.filter(output=control).exists()


def test_inputs_only_qc_outputs_carry_do_not_make_a_metric_computable():
    # given logprobs only on a control item's output
    campaign = make_campaign(items=2, metrics=["bleu", "perplexity"])
    control = add_qc_outputs(campaign)[0]
    Output.objects.filter(pk=control.pk).update(logprobs=[-0.5, -1.0])
    # when a run starts, perplexity is skipped for want of logprobs
    run = metric_run_start(campaign=campaign)
    assert run.metrics == ["bleu"]
    assert run.skipped == {"perplexity": "the campaign's outputs have no logprobs"}
