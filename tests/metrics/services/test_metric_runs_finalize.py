"""Finalize: ROUGE/METEOR system values are the mean of the stored segments (not recomputed),
sacrebleu metrics are corpus-level over all outputs, perplexity pools tokens; it waits for
every chunk."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import sacrebleu
from nltk.translate.meteor_score import meteor_score
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from annotations.models import Output
from metrics.compute.automatic.generation import wordnet_load
from metrics.models import MetricRun, MetricValue
from metrics.services.runs import (
    ChunksPending,
    metric_run_chunk_execute,
    metric_run_finalize,
    metric_run_start,
)
from metrics.wordnet import DEBIAN_WORDNET, wordnet_data_dir_build
from tests.metrics.services.test_metric_runs import make_campaign, run_all, system_texts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def queue() -> Iterator[mock.Mock]:
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue") as patched:
        yield patched


@pytest.fixture(scope="module")
def wordnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (DEBIAN_WORDNET / "data.noun").is_file():
        message = f"{DEBIAN_WORDNET} is absent: apt-get install wordnet-base wordnet-sense-index"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return wordnet_data_dir_build(tmp_path_factory.mktemp("nltk_data"))


def test_rouge_system_values_are_the_mean_of_the_stored_segment_values():
    # given a run whose chunks are done, and segment values changed in the database afterwards
    campaign = make_campaign(items=4, systems=("base",), metrics=["rouge1", "rougeL"])
    run = metric_run_start(campaign=campaign, chunk_size=3)
    for index in (0, 1):
        metric_run_chunk_execute(run_id=run.pk, chunk_index=index)
    outputs = list(Output.objects.filter(item__campaign=campaign).order_by("id"))
    for output, value in zip(outputs, (0.1, 0.2, 0.4, None), strict=True):
        MetricValue.objects.filter(output=output, metric="rouge1").update(value=value)
    # when the run finalizes
    with mock.patch("rouge_score.rouge_scorer.RougeScorer.score_multi", autospec=True,
                    side_effect=_probe_only):
        run = metric_run_finalize(run_id=run.pk)
    # then rouge1 is the mean of the stored defined values (0.1 + 0.2 + 0.4) / 3
    rouge1 = MetricValue.objects.get(campaign=campaign, metric="rouge1", output__isnull=True)
    assert rouge1.value == pytest.approx(0.7 / 3, abs=1e-15)
    assert rouge1.details["n"] == 3
    assert rouge1.details["stemmer"] is True and "rouge-score" in rouge1.details["versions"]
    assert run.status == MetricRun.Status.SUCCEEDED


def _probe_only(self, targets, prediction):
    """RougeScorer.score_multi that only accepts the details probe ("a" against "a")."""
    assert (list(targets), prediction) == (["a"], "a"), "finalize scored an output again"
    return {t: _Score(1.0) for t in self.rouge_types}


class _Score:
    def __init__(self, fmeasure: float) -> None:
        self.fmeasure = fmeasure


def test_meteor_system_value_is_the_mean_of_nltk_meteor_per_output(wordnet_dir):
    # given a campaign whose METEOR uses WordNet
    campaign = make_campaign(items=5, metrics=["meteor"],
                             options={"wordnet_dir": str(wordnet_dir)})
    run_all(metric_run_start(campaign=campaign, chunk_size=4))
    wordnet = wordnet_load(wordnet_dir / "corpora" / "wordnet")
    tokenize = Tokenizer13a()
    for system in campaign.systems.all():
        hyps, refs = system_texts(system)
        expected = [meteor_score([tokenize(ref).split()], tokenize(hyp).split(), wordnet=wordnet)
                    for hyp, ref in zip(hyps, refs, strict=True)]
        stored = MetricValue.objects.get(system=system, metric="meteor", output__isnull=True)
        assert stored.value == pytest.approx(math.fsum(expected) / len(expected), abs=1e-12)
        assert stored.details["mode"] == "exact+stem+synonym"
        assert stored.details["n"] == 5


def test_perplexity_pools_all_tokens_of_a_system():
    # given outputs with logprob lists of different lengths
    campaign = make_campaign(items=3, systems=("base",), metrics=["perplexity"])
    logprobs = [[-0.1], [-2.0, -3.0, -1.5, -0.5], [-0.2, -0.4]]
    for output, lps in zip(Output.objects.filter(item__campaign=campaign).order_by("id"),
                           logprobs, strict=True):
        output.logprobs = lps
        output.save()
    # when the run completes
    run_all(metric_run_start(campaign=campaign, chunk_size=2))
    # then the system value is exp(−Σ log p / N) over all 7 tokens, not a mean of perplexities
    pooled = float(np.exp(-np.mean(np.concatenate([np.array(lp) for lp in logprobs]))))
    per_output = np.mean([np.exp(-np.mean(lp)) for lp in logprobs])
    stored = MetricValue.objects.get(campaign=campaign, metric="perplexity", output__isnull=True)
    assert stored.value == pytest.approx(pooled, rel=1e-12)
    assert stored.value != pytest.approx(per_output, rel=1e-3)
    assert stored.details["tokens"] == 7


def test_sacrebleu_system_values_are_corpus_level_over_all_outputs_across_chunks():
    campaign = make_campaign(items=7, systems=("base",), metrics=["bleu", "chrf", "ter"])
    run_all(metric_run_start(campaign=campaign, chunk_size=2))
    hyps, refs = system_texts(campaign.systems.get())
    stored = {v.metric: v.value
              for v in MetricValue.objects.filter(campaign=campaign, output__isnull=True)}
    assert stored["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert stored["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    assert stored["ter"] == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score, abs=1e-9)


def test_finalize_before_every_chunk_is_done_raises_and_changes_nothing():
    # given a run of 2 chunks of which only one is done (a duplicated chunk completed the
    # chord's counter early)
    campaign = make_campaign(items=2, metrics=["bleu"])
    run = metric_run_start(campaign=campaign, chunk_size=2)
    metric_run_chunk_execute(run_id=run.pk, chunk_index=0)
    # when finalize arrives, it refuses, and stores no corpus value
    with pytest.raises(ChunksPending):
        metric_run_finalize(run_id=run.pk)
    assert not MetricValue.objects.filter(campaign=campaign, output__isnull=True).exists()
    run.refresh_from_db()
    assert run.status == MetricRun.Status.RUNNING
    # and once the last chunk is done it succeeds
    metric_run_chunk_execute(run_id=run.pk, chunk_index=1)
    assert metric_run_finalize(run_id=run.pk).status == MetricRun.Status.SUCCEEDED


def test_sacrebleu_system_values_come_from_stored_segment_statistics():
    # given a run whose chunks are done
    campaign = make_campaign(items=6, systems=("base",), metrics=["bleu", "chrf", "ter"])
    run = metric_run_start(campaign=campaign, chunk_size=4)
    for index in (0, 1):
        metric_run_chunk_execute(run_id=run.pk, chunk_index=index)
    # when finalize runs with sacrebleu's corpus_score unavailable
    with mock.patch("sacrebleu.metrics.base.Metric.corpus_score",
                    side_effect=AssertionError("finalize must not re-read the texts")):
        metric_run_finalize(run_id=run.pk)
    # then the values equal sacrebleu's corpus scores, with sacrebleu's signature
    hyps, refs = system_texts(campaign.systems.get())
    stored = {v.metric: v for v in MetricValue.objects.filter(campaign=campaign,
                                                               output__isnull=True)}
    assert stored["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score,
                                                 abs=1e-9)
    assert stored["chrf"].value == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score,
                                                 abs=1e-9)
    assert stored["ter"].value == pytest.approx(sacrebleu.corpus_ter(hyps, [refs]).score,
                                                abs=1e-9)
    assert stored["bleu"].details["signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")


def test_lm_perplexity_system_value_pools_the_stored_segment_nll_without_rescoring():
    # given a language model stand-in: NLL = 0.5 nat per word (+ 0.25 per character of the
    # first word), reporting per-output (NLL, tokens) like lm_perplexity does
    from metrics.compute.automatic import MetricResult, metric_get

    calls: list[bool] = []

    def scored(text: str) -> tuple[float, int]:
        words = text.split()
        return 0.5 * len(words) + 0.25 * len(words[0]), len(words)

    def fake(records, options):
        calls.append(options.segments)
        stats = [list(scored(r.text)) for r in records]
        return MetricResult(
            name="lm_perplexity", value=None,
            segments=tuple(float(np.exp(nll / n)) for nll, n in stats),
            details={"segment_stats": stats} if options.segments else {})

    campaign = make_campaign(items=5, systems=("base",), metrics=["lm_perplexity"])
    spec = metric_get("lm_perplexity")
    with mock.patch.dict(spec.__dict__, {"func": fake}):
        # when a run in chunks of 2 completes
        run_all(metric_run_start(campaign=campaign, chunk_size=2))
    # then the system value is exp(Σ NLL / Σ tokens) over all outputs, from the stored
    # segments: the model ran only on chunks (segments=True), never again at finalize
    nll, tokens = np.array([scored(o.text) for o in Output.objects.filter(
        item__campaign=campaign)]).T
    stored = MetricValue.objects.get(campaign=campaign, metric="lm_perplexity",
                                     output__isnull=True)
    assert stored.value == pytest.approx(float(np.exp(nll.sum() / tokens.sum())), rel=1e-12)
    assert stored.details["tokens"] == int(tokens.sum())
    assert calls and all(calls)
