"""Metric re-runs recompute only what changed: fingerprints of each value's inputs, metric,
options and library versions; reused vs computed counts on the run."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from annotations.models import Output
from metrics.compute.automatic import metric_get
from metrics.models import MetricRun, MetricValue
from metrics.selectors_runs import segment_metric_values
from metrics.services.runs import DETAILS_PROBE, metric_digest, metric_run_start
from tests.annotations.factories import ItemFactory, OutputFactory
from tests.metrics.services.test_metric_runs import make_campaign, run_all, system_texts

pytestmark = pytest.mark.django_db

METRICS = ["bleu", "rougeL"]


@pytest.fixture(autouse=True)
def queue() -> Iterator[mock.Mock]:
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as patched:
        yield patched


class Spy:
    """Wraps registered metrics' compute functions and records how many records each got."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, bool]] = []

    def wrap(self, name: str):
        spec = metric_get(name)
        original = spec.func

        def func(records, options):
            if list(records) != [DETAILS_PROBE]:  # the probe only reads the result's details
                self.calls.append((name, len(records), options.segments))
            return original(records, options)

        # MetricSpec is a frozen dataclass: patch the attribute in the instance's __dict__.
        return mock.patch.dict(spec.__dict__, {"func": func})

    def segment_records(self, name: str) -> int:
        return sum(n for metric, n, segments in self.calls if metric == name and segments)

    def corpus_calls(self, name: str) -> int:
        return sum(1 for metric, _, segments in self.calls if metric == name and not segments)


@pytest.fixture
def spy() -> Iterator[Spy]:
    recorder = Spy()
    patches = [recorder.wrap(name) for name in ("bleu", "rougeL", "chrf")]
    for patch in patches:
        patch.start()
    try:
        yield recorder
    finally:
        for patch in patches:
            patch.stop()


def stored(campaign) -> tuple[dict, dict]:
    corpus = {(v.system_id, v.metric): v.value
              for v in MetricValue.objects.filter(campaign=campaign, output__isnull=True)}
    return segment_metric_values(campaign=campaign), corpus


def counts(run: MetricRun) -> tuple[int, int, int, int]:
    run.refresh_from_db()
    return (run.segments_computed, run.segments_reused, run.corpus_computed, run.corpus_reused)


def test_a_first_run_computes_every_value_and_says_so():
    campaign = make_campaign(items=4, metrics=METRICS)
    run = run_all(metric_run_start(campaign=campaign, chunk_size=3))
    # 8 outputs × 2 metrics segment values, 2 systems × 2 metrics corpus values
    assert counts(run) == (16, 0, 4, 0)
    assert MetricValue.objects.filter(campaign=campaign).exclude(fingerprint="").count() == 20


def test_an_unchanged_rerun_reuses_every_value_without_computing(spy):
    # given a finished run
    campaign = make_campaign(items=4, metrics=METRICS)
    first = run_all(metric_run_start(campaign=campaign, chunk_size=3))
    before = stored(campaign)
    spy.calls.clear()
    # when the same campaign is run again, split into other chunks
    second = run_all(metric_run_start(campaign=campaign, chunk_size=5))
    # then nothing is computed, every value is kept (still from the first run) and counted
    assert spy.calls == []
    assert counts(second) == (0, 16, 0, 4)
    assert second.status == MetricRun.Status.SUCCEEDED
    assert stored(campaign) == before
    assert set(MetricValue.objects.filter(campaign=campaign)
               .values_list("run_id", flat=True)) == {first.pk}


def test_an_edited_output_recomputes_its_segments_and_its_systems_corpus_values_only(spy):
    # given a finished run over 2 systems × 5 items
    campaign = make_campaign(items=5, metrics=METRICS)
    run_all(metric_run_start(campaign=campaign, chunk_size=4))
    base, ft = campaign.systems.order_by("id")
    edited = Output.objects.filter(system=ft).order_by("id")[2]
    edited.text = "a completely different answer with the cat"
    edited.save()
    spy.calls.clear()
    # when the campaign is run again
    run = run_all(metric_run_start(campaign=campaign, chunk_size=4))
    # then one segment per metric is computed, the other 9 are reused
    assert (spy.segment_records("bleu"), spy.segment_records("rougeL")) == (1, 1)
    assert counts(run) == (2, 18, 2, 2)
    # and ft's corpus BLEU is recomputed (from the stored segment statistics, without
    # reading the texts again) and equals sacrebleu's on the new texts; base's is kept
    assert spy.corpus_calls("bleu") == 0
    hyps, refs = system_texts(ft)
    corpus = MetricValue.objects.get(system=ft, metric="bleu", output__isnull=True)
    assert corpus.value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert corpus.run_id == run.pk
    assert MetricValue.objects.get(system=base, metric="bleu", output__isnull=True).run_id != run.pk
    # and the edited output's segment values are the libraries' on its new text
    reference = edited.item.references[0]
    segment = MetricValue.objects.get(output=edited, metric="bleu")
    assert segment.value == pytest.approx(
        sacrebleu.sentence_bleu(edited.text, [reference]).score, abs=1e-9)
    rouge = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, edited.text)
    assert MetricValue.objects.get(output=edited, metric="rougeL").value == pytest.approx(
        rouge["rougeL"].fmeasure, abs=1e-12)


def test_edited_references_recompute_that_items_outputs_in_every_system(spy):
    campaign = make_campaign(items=4, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    item = campaign.items.order_by("id").first()
    item.references = ["the cat sat on the mat"]
    item.save()
    spy.calls.clear()
    run = run_all(metric_run_start(campaign=campaign))
    assert spy.segment_records("bleu") == 2
    assert counts(run) == (2, 6, 2, 0)


def test_a_new_output_is_computed_and_its_system_corpus_value_recomputed(spy):
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    base = campaign.systems.order_by("id").first()
    item = ItemFactory(campaign=campaign, external_id="new", references=["dogs ran fast"])
    OutputFactory(item=item, system=base, text="dogs ran very fast")
    spy.calls.clear()
    run = run_all(metric_run_start(campaign=campaign))
    assert counts(run) == (1, 6, 1, 1)
    hyps, refs = system_texts(base)
    corpus = MetricValue.objects.get(system=base, metric="bleu", output__isnull=True).value
    assert corpus == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)


def test_a_deleted_output_recomputes_its_systems_corpus_value(spy):
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    base = campaign.systems.order_by("id").first()
    Output.objects.filter(system=base).order_by("id").first().delete()
    run = run_all(metric_run_start(campaign=campaign))
    assert counts(run) == (0, 5, 1, 1)
    hyps, refs = system_texts(base)
    corpus = MetricValue.objects.get(system=base, metric="bleu", output__isnull=True).value
    assert corpus == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)


def test_an_added_metric_is_computed_while_the_others_are_reused(spy):
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    spy.calls.clear()
    run = run_all(metric_run_start(campaign=campaign, metrics=["bleu", "chrf"]))
    assert spy.segment_records("bleu") == 0 and spy.segment_records("chrf") == 6
    assert counts(run) == (6, 6, 2, 2)
    for system in campaign.systems.all():
        hyps, refs = system_texts(system)
        chrf = MetricValue.objects.get(system=system, metric="chrf", output__isnull=True).value
        assert chrf == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)


def test_changed_metric_options_recompute_everything(spy):
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    campaign.options = {"tokenizer": "char"}
    campaign.save()
    run = run_all(metric_run_start(campaign=campaign))
    assert counts(run) == (6, 0, 2, 0)
    value = MetricValue.objects.filter(campaign=campaign, output__isnull=True).first()
    assert "tok:char" in value.details["signature"]


def test_a_new_library_version_recomputes_everything():
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    versions = {"sacrebleu": "99.0", "rouge-score": "0.1.2", "nltk": "3.9", "scikit-learn": "1",
                "numpy": "2", "scipy": "1"}
    with mock.patch("metrics.services.runs.lifecycle.library_versions", return_value=versions):
        run = run_all(metric_run_start(campaign=campaign))
    assert counts(run) == (6, 0, 2, 0)


def test_force_recomputes_values_whose_inputs_did_not_change(spy):
    campaign = make_campaign(items=3, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    spy.calls.clear()
    run = run_all(metric_run_start(campaign=campaign, force=True))
    assert spy.segment_records("bleu") == 6
    assert counts(run) == (6, 0, 2, 0)


def test_a_stale_stored_value_with_a_wrong_fingerprint_is_recomputed():
    # given stored values of which one was tampered with (its fingerprint no longer matches)
    campaign = make_campaign(items=2, metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign))
    output = Output.objects.filter(item__campaign=campaign).order_by("id").first()
    MetricValue.objects.filter(output=output).update(value=-1.0, fingerprint="stale")
    # when the campaign is rerun, that value is computed again from sacrebleu
    run = run_all(metric_run_start(campaign=campaign))
    assert counts(run)[:2] == (1, 3)
    assert MetricValue.objects.get(output=output).value == pytest.approx(
        sacrebleu.sentence_bleu(output.text, [output.item.references[0]]).score, abs=1e-9)


def test_another_language_model_recomputes_lm_perplexity_but_not_the_other_metrics():
    # given a run whose fingerprints were taken with one local model
    campaign = make_campaign(items=3, metrics=["bleu"])
    run = metric_run_start(campaign=campaign)
    with mock.patch("metrics.services.runs.digests.lm_identity", return_value={"model": "a.gguf"}):
        lm_before = metric_digest(run=run, name="lm_perplexity")
        bleu_before = metric_digest(run=run, name="bleu")
    # when the configured model changes (or the extra is installed since)
    with mock.patch("metrics.services.runs.digests.lm_identity", return_value={"model": "b.gguf"}):
        lm_after = metric_digest(run=run, name="lm_perplexity")
        bleu_after = metric_digest(run=run, name="bleu")
    # then only lm_perplexity's stored values stop matching
    assert lm_before != lm_after
    assert bleu_before == bleu_after


def test_fingerprints_of_an_output_range_are_only_the_campaigns_own():
    """Another campaign's outputs inside the id range do not lend it their fingerprints."""
    from metrics.selectors_runs import segment_fingerprints_get

    first, second = make_campaign(items=2), make_campaign(items=2)
    for campaign in (first, second):
        for output in Output.objects.filter(item__campaign=campaign):
            MetricValue.objects.create(campaign=campaign, system=output.system, output=output,
                                       metric="bleu", value=1.0,
                                       fingerprint=f"fp-{campaign.pk}-{output.pk}")
    ids = sorted(Output.objects.values_list("pk", flat=True))

    got = segment_fingerprints_get(campaign_id=first.pk, first_id=ids[0], last_id=ids[-1],
                                   metrics=["bleu"])

    own = Output.objects.filter(item__campaign=first).values_list("pk", flat=True)
    assert got == {(pk, "bleu"): f"fp-{first.pk}-{pk}" for pk in own}
