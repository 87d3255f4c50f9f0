"""Metric run services: start (chunks, queued on commit), chunk upserts, finalize, fail, cancel."""

from __future__ import annotations

import random
from collections.abc import Iterator
from unittest import mock

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from annotations.models import Campaign, Output, System
from metrics.models import MetricRun, MetricRunChunk, MetricValue
from metrics.selectors_runs import segment_metric_values
from metrics.services.runs import (
    metric_run_cancel,
    metric_run_chunk_execute,
    metric_run_fail,
    metric_run_finalize,
    metric_run_queue,
    metric_run_start,
)
from tests.annotations.factories import CampaignFactory, ItemFactory, OutputFactory, SystemFactory

pytestmark = pytest.mark.django_db

WORDS = ("the cat sat on a mat while dogs ran fast under blue sky and green trees near "
         "old houses with red doors").split()


def make_campaign(*, items: int = 6, systems: tuple[str, ...] = ("base", "ft"),
                  metrics: list[str] | None = None, seed: int = 7, **extra: object) -> Campaign:
    """A campaign where every system answers every item with random words (seeded)."""
    rng = random.Random(seed)
    campaign = CampaignFactory(metrics=metrics if metrics is not None else ["bleu", "rougeL"],
                               **extra)
    system_rows = [SystemFactory(campaign=campaign, name=name, is_baseline=i == 0)
                   for i, name in enumerate(systems)]
    outputs = []
    for i in range(items):
        reference = " ".join(rng.choices(WORDS, k=rng.randint(6, 12)))
        item = ItemFactory(campaign=campaign, external_id=f"q{i}", references=[reference])
        for system in system_rows:
            words = reference.split()
            # Replace a few words so systems differ from the reference and from each other.
            for _ in range(rng.randint(0, 4)):
                words[rng.randrange(len(words))] = rng.choice(WORDS)
            outputs.append(Output(item=item, system=system, text=" ".join(words)))
    Output.objects.bulk_create(outputs)
    return campaign


def system_texts(system: System) -> tuple[list[str], list[str]]:
    """(hypotheses, first references) of a system's outputs in output id order."""
    rows = system.outputs.order_by("id").values_list("text", "item__references")
    return [text for text, _ in rows], [refs[0] for _, refs in rows]


def run_all(run: MetricRun) -> MetricRun:
    """Execute every chunk, then finalize, in-process (what the chord does)."""
    for index in run.chunks.values_list("index", flat=True):
        metric_run_chunk_execute(run_id=run.pk, chunk_index=index)
    return metric_run_finalize(run_id=run.pk)


@pytest.fixture
def queue() -> Iterator[mock.Mock]:
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as patched:
        yield patched


def test_start_splits_outputs_into_id_range_chunks_and_queues_on_commit(
    django_capture_on_commit_callbacks, queue
):
    # given a campaign with 12 outputs
    campaign = make_campaign(items=6)
    ids = list(Output.objects.filter(item__campaign=campaign).order_by("id")
               .values_list("id", flat=True))
    # when a run starts with chunks of 5
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        run = metric_run_start(campaign=campaign, chunk_size=5)
        assert queue.call_count == 0
    # then 3 chunks cover the ids in order, and the chord is queued only on commit
    chunks = list(run.chunks.order_by("index").values_list(
        "index", "first_output_id", "last_output_id", "outputs"))
    assert chunks == [(0, ids[0], ids[4], 5), (1, ids[5], ids[9], 5), (2, ids[10], ids[11], 2)]
    assert (run.chunks_total, run.outputs_total, run.status) == (3, 12, MetricRun.Status.PENDING)
    assert run.metrics == ["bleu", "rougeL"]
    assert set(run.versions) >= {"sacrebleu", "rouge-score"}
    assert len(callbacks) == 1
    queue.assert_called_once_with(run_id=run.pk)


def test_queue_sends_a_chord_of_chunk_tasks_then_finalize(queue):
    # given a run with two chunks
    campaign = make_campaign(items=2)
    run = metric_run_start(campaign=campaign, chunk_size=2)
    # when the real queue function runs with the tasks mocked
    with mock.patch("metrics.tasks.metric_run_chunk.si") as chunk_si, \
            mock.patch("metrics.tasks.metric_run_finalize.si") as finalize_si, \
            mock.patch("celery.chord") as chord, mock.patch("celery.group") as group:
        metric_run_queue(run_id=run.pk)
    # then a group of one signature per chunk is the chord's header, finalize its body
    assert chunk_si.call_args_list == [mock.call(run.pk, 0), mock.call(run.pk, 1)]
    finalize_si.assert_called_once_with(run.pk)
    assert list(group.call_args.args[0]) == [chunk_si.return_value] * 2
    chord.assert_called_once_with(group.return_value)
    chord.return_value.assert_called_once_with(finalize_si.return_value)


def test_queue_failure_marks_the_run_failed(queue):
    # given a run whose broker is unreachable
    run = metric_run_start(campaign=make_campaign(items=1))
    with mock.patch("celery.chord", side_effect=ConnectionError("broker down")):
        metric_run_queue(run_id=run.pk)
    # then the run is failed with the error
    run.refresh_from_db()
    assert run.status == MetricRun.Status.FAILED
    assert run.error == "ConnectionError: broker down"


def test_unknown_and_unfeedable_metrics_are_recorded_with_a_reason(queue):
    # given a campaign without logprobs asking for perplexity and an unknown name
    campaign = make_campaign(items=2, metrics=["bleu", "perplexity", "nope", "bleu"])
    # when a run starts and completes
    run = metric_run_start(campaign=campaign)
    run = run_all(run)
    # then only bleu is computed; the others carry reasons, unfeedable ones as null values
    assert run.metrics == ["bleu"]
    assert run.skipped == {"perplexity": "the campaign's outputs have no logprobs",
                           "nope": "unknown metric"}
    assert run.status == MetricRun.Status.SUCCEEDED
    perplexity = MetricValue.objects.filter(campaign=campaign, metric="perplexity")
    assert perplexity.count() == 2
    assert all(v.value is None and v.output_id is None and "logprobs" in v.reason
               for v in perplexity)
    assert not MetricValue.objects.filter(metric="nope").exists()


def test_explicit_metrics_override_the_campaign_list(queue):
    campaign = make_campaign(items=1)
    run = metric_run_start(campaign=campaign, metrics=["chrf"])
    assert run.metrics == ["chrf"]


def test_a_campaign_without_outputs_gets_no_chunks_and_finalizes(queue):
    campaign = CampaignFactory(metrics=["bleu"])
    run = metric_run_start(campaign=campaign)
    assert (run.chunks_total, run.outputs_total) == (0, 0)
    assert run.skipped == {"bleu": "the campaign's outputs have no references, text"}
    assert metric_run_finalize(run_id=run.pk).status == MetricRun.Status.SUCCEEDED


def test_a_chunk_run_twice_upserts_the_same_values_and_counts_once(queue):
    # given a started run of 8 outputs in 2 chunks
    campaign = make_campaign(items=4)
    run = metric_run_start(campaign=campaign, chunk_size=4)
    # when chunk 0 runs twice (a retry or a duplicate delivery)
    first = metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    values_once = segment_metric_values(campaign=campaign)
    MetricRunChunk.objects.filter(run=run, index=0).update(done_at=None)  # as if lost mid-way
    MetricRun.objects.filter(pk=run.pk).update(chunks_done=0, outputs_done=0)
    again = metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    duplicate = metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    # then values are identical, rows are not duplicated and the chunk counts once
    assert (first, again, duplicate) == (4, 4, 0)
    assert segment_metric_values(campaign=campaign) == values_once
    assert MetricValue.objects.filter(campaign=campaign).count() == 4 * 2
    run.refresh_from_db()
    assert (run.chunks_done, run.outputs_done, run.status) == (1, 4, MetricRun.Status.RUNNING)
    assert run.started_at is not None


def test_segment_values_equal_the_libraries_sentence_scores(queue):
    # given a run over one chunk
    campaign = make_campaign(items=5, metrics=["bleu", "rouge1"])
    run = metric_run_start(campaign=campaign)
    # when the chunk runs
    metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    # then every output's values are sacrebleu's sentence BLEU and rouge-score's F-measure
    values = segment_metric_values(campaign=campaign)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    for output in Output.objects.filter(item__campaign=campaign).select_related("item"):
        reference = output.item.references[0]
        bleu = sacrebleu.sentence_bleu(output.text, [reference]).score
        assert values[(output.pk, "bleu")] == pytest.approx(bleu, abs=1e-9)
        rouge = scorer.score(reference, output.text)["rouge1"].fmeasure
        assert values[(output.pk, "rouge1")] == pytest.approx(rouge, abs=1e-12)
    assert len(values) == 10 * 2


def test_corpus_values_equal_the_libraries_on_each_systems_outputs(queue):
    # given a finished run over 2 systems in 3 chunks
    campaign = make_campaign(items=9, metrics=["bleu", "chrf", "ter", "rougeL"])
    run = run_all(metric_run_start(campaign=campaign, chunk_size=7))
    assert run.status == MetricRun.Status.SUCCEEDED and run.finished_at is not None
    assert (run.chunks_done, run.outputs_done) == (3, 18)
    # then corpus values are sacrebleu's corpus scores and the mean rouge-score F-measure
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    for system in campaign.systems.all():
        hyps, refs = system_texts(system)
        stored = {v.metric: v for v in MetricValue.objects.filter(system=system,
                                                                  output__isnull=True)}
        assert stored["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score,
                                                     abs=1e-9)
        assert stored["chrf"].value == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score,
                                                     abs=1e-9)
        assert stored["ter"].value == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score,
                                                    abs=1e-9)
        rouge = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs, strict=True)]
        assert stored["rougeL"].value == pytest.approx(sum(rouge) / len(rouge), abs=1e-12)
        assert stored["bleu"].details["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
        assert "sacrebleu" in stored["bleu"].details["versions"]
        assert stored["bleu"].run_id == run.pk


def test_corpus_bleu_is_not_the_mean_of_segment_bleu(queue):
    campaign = make_campaign(items=8, systems=("base",), metrics=["bleu"])
    run_all(metric_run_start(campaign=campaign, chunk_size=3))
    corpus = MetricValue.objects.get(campaign=campaign, output__isnull=True).value
    segments = list(MetricValue.objects.filter(campaign=campaign, output__isnull=False)
                    .values_list("value", flat=True))
    assert corpus != pytest.approx(sum(segments) / len(segments))


def test_a_forced_second_run_overwrites_values_without_duplicates(queue):
    campaign = make_campaign(items=3)
    run_all(metric_run_start(campaign=campaign, chunk_size=2))
    second = run_all(metric_run_start(campaign=campaign, chunk_size=4, force=True))
    values = MetricValue.objects.filter(campaign=campaign)
    assert values.count() == 6 * 2 + 2 * 2
    assert set(values.values_list("run_id", flat=True)) == {second.pk}
    assert (second.segments_computed, second.segments_reused) == (12, 0)
    assert (second.corpus_computed, second.corpus_reused) == (4, 0)


def test_campaign_tokenizer_option_reaches_the_metrics(queue):
    campaign = make_campaign(items=2, metrics=["bleu"], options={"tokenizer": "char"})
    run = run_all(metric_run_start(campaign=campaign))
    assert run.options == {"tokenize": "char"}
    value = MetricValue.objects.filter(campaign=campaign, output__isnull=True).first()
    assert "tok:char" in value.details["signature"]


def test_a_cancelled_run_ignores_its_chunks_and_final_step(queue):
    # given a run cancelled before its chunks ran
    campaign = make_campaign(items=2)
    run = metric_run_cancel(run=metric_run_start(campaign=campaign))
    assert run.status == MetricRun.Status.CANCELLED and run.finished_at is not None
    # when its tasks still arrive
    assert metric_run_chunk_execute(run_id=run.pk, chunk_index=0) == 0
    assert metric_run_finalize(run_id=run.pk).status == MetricRun.Status.CANCELLED
    # then nothing is stored or counted
    assert not MetricValue.objects.filter(campaign=campaign).exists()
    run.refresh_from_db()
    assert run.chunks_done == 0


def test_cancel_does_not_change_a_finished_run(queue):
    run = run_all(metric_run_start(campaign=make_campaign(items=1)))
    assert metric_run_cancel(run=run).status == MetricRun.Status.SUCCEEDED


def test_fail_stores_the_first_error_and_later_steps_do_nothing(queue):
    campaign = make_campaign(items=2)
    run = metric_run_start(campaign=campaign)
    metric_run_fail(run_id=run.pk, error="chunk 0: OperationalError: gone")
    metric_run_fail(run_id=run.pk, error="second")
    run.refresh_from_db()
    assert (run.status, run.error) == (MetricRun.Status.FAILED, "chunk 0: OperationalError: gone")
    assert metric_run_finalize(run_id=run.pk).status == MetricRun.Status.FAILED
    assert not MetricValue.objects.filter(campaign=campaign).exists()


def test_chunk_size_must_be_positive(queue):
    with pytest.raises(ValueError, match="chunk_size"):
        metric_run_start(campaign=make_campaign(items=1), chunk_size=0)


def test_outputs_without_references_get_a_null_segment_with_a_reason(queue):
    campaign = make_campaign(items=2, metrics=["bleu"])
    item = ItemFactory(campaign=campaign, external_id="noref", references=[])
    output = OutputFactory(item=item, system=campaign.systems.first(), text="anything")
    run_all(metric_run_start(campaign=campaign))
    value = MetricValue.objects.get(output=output, metric="bleu")
    assert value.value is None and value.reason
