"""ROUGE types sharing one scorer and sacrebleu scores from segment statistics equal the
libraries called directly."""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from metrics.compute.automatic import MetricOptions, OutputRecord, metric_compute_many
from metrics.compute.automatic.generation import rouge_many, sacrebleu_from_stats

WORDS = "the cat sat on a mat while dogs ran fast under blue sky and green trees".split()


def records(n: int, seed: int = 3) -> list[OutputRecord]:
    rng = random.Random(seed)
    return [OutputRecord(text=" ".join(rng.choices(WORDS, k=rng.randint(3, 15))),
                         references=tuple(" ".join(rng.choices(WORDS, k=rng.randint(3, 15)))
                                          for _ in range(rng.randint(1, 2))))
            for _ in range(n)]


def test_rouge_types_computed_together_equal_rouge_score_per_type():
    recs = records(30)
    results = rouge_many(["rouge1", "rouge2", "rougeL"], recs, MetricOptions())
    for rouge_type in ("rouge1", "rouge2", "rougeL"):
        scorer = rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)
        expected = [scorer.score_multi(list(r.references), r.text)[rouge_type].fmeasure
                    for r in recs]
        assert list(results[rouge_type].segments) == expected


def test_compute_many_equals_computing_each_metric_alone():
    recs = records(20)
    together = metric_compute_many(["rouge1", "rougeL", "bleu"], recs)
    from metrics.compute.automatic import metric_compute

    for name in ("rouge1", "rougeL", "bleu"):
        alone = metric_compute(name, recs)
        assert (together[name].value, together[name].segments) == (alone.value, alone.segments)


@pytest.mark.parametrize("name,sentence,corpus", [
    ("bleu", sacrebleu.sentence_bleu, sacrebleu.corpus_bleu),
    ("chrf", sacrebleu.sentence_chrf, sacrebleu.corpus_chrf),
    ("ter", sacrebleu.sentence_ter, sacrebleu.corpus_ter),
])
def test_sacrebleu_segments_and_corpus_from_statistics_equal_sacrebleu(name, sentence, corpus):
    recs = [OutputRecord(text=r.text, references=r.references[:1]) for r in records(24)]
    hyps, refs = [r.text for r in recs], [r.references[0] for r in recs]
    # segments equal sacrebleu's sentence scores
    from metrics.compute.automatic import metric_compute

    first = metric_compute(name, recs[:10])
    second = metric_compute(name, recs[10:])
    segments = list(first.segments) + list(second.segments)
    assert segments == [sentence(h, [r]).score for h, r in zip(hyps, refs, strict=True)]
    # and the corpus score of both parts' statistics equals corpus_score over all of them
    stats = first.details["segment_stats"] + second.details["segment_stats"]
    nrefs = first.details["segment_nrefs"] + second.details["segment_nrefs"]
    joined = sacrebleu_from_stats(name, stats, nrefs, MetricOptions(segments=False))
    assert joined.value == pytest.approx(corpus(hyps, [refs]).score, abs=1e-9)
    assert joined.details["signature"].startswith("nrefs:1|")
