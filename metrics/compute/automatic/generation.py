"""Generation metrics: sacrebleu BLEU/chrF/chrF++/TER, rouge-score ROUGE, nltk METEOR, perplexity.

Records without output text or without references are skipped (segment None); with none
left the value is None with a reason. sacrebleu scores are 0–100 and corpus-level (not a mean
of segments); ROUGE F-measures and METEOR are 0–1 means of segment scores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import nltk
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    exp_or_none,
    library_versions,
    missing,
    segment_mean,
)

TEXT_REFS = frozenset({Need.TEXT, Need.REFERENCES})
# Tokenizers whose languages TER should treat with sacrebleu's Asian-script support.
_ASIAN_TOKENIZERS = frozenset({"zh", "ja-mecab", "ko-mecab", "char"})


def _usable(records: Sequence[OutputRecord]) -> tuple[list[int], str | None]:
    """Indices of records with output text and at least one reference, or why there are none."""
    if not records:
        return [], "no outputs"
    with_refs = [i for i, r in enumerate(records) if any(ref for ref in r.references)]
    if not with_refs:
        return [], "no references"
    usable = [i for i in with_refs if records[i].text is not None]
    return usable, None if usable else "no output text"


def _sacrebleu_metric(name: str, options: MetricOptions, sentence: bool) -> Metric:
    if name == "bleu":
        return BLEU(tokenize=options.tokenize, lowercase=options.lowercase,
                    effective_order=sentence)
    if name in ("chrf", "chrf++"):
        return CHRF(word_order=2 if name == "chrf++" else 0, lowercase=options.lowercase)
    # TER keeps sacrebleu's default: case-insensitive (tercom convention).
    return TER(asian_support=options.tokenize in _ASIAN_TOKENIZERS)


def _sacrebleu_compute(
    name: str, records: Sequence[OutputRecord], options: MetricOptions
) -> MetricResult:
    """Corpus score over all usable records plus sentence scores (sacrebleu, Post 2018).

    References vary in number per record; shorter lists are padded with None, which
    sacrebleu ignores. sacrebleu's segment statistics are extracted once: the corpus score
    aggregates them (as corpus_score does), each sentence score is computed from its own
    (as sentence_score does, BLEU with effective_order=True), and with options.segments the
    per-record statistics are returned in details["segment_stats"] so that a caller can
    aggregate a larger corpus later (sacrebleu_from_stats) without re-reading the texts.
    """
    usable, reason = _usable(records)
    if reason:
        return missing(name, reason, len(records))
    hyps = [records[i].text or "" for i in usable]
    refs = [[ref for ref in records[i].references if ref] for i in usable]
    width = max(len(r) for r in refs)
    streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
    metric = _sacrebleu_metric(name, options, sentence=False)
    stats = metric._extract_corpus_statistics(hyps, streams)  # type: ignore[arg-type]
    corpus = metric._aggregate_and_compute(stats)
    details = _sacrebleu_details(name, metric, corpus, len(usable))
    if not options.segments:
        return MetricResult(name=name, value=float(corpus.score), details=details)
    segments: list[float | None] = [None] * len(records)
    segment_stats: list[list[float] | None] = [None] * len(records)
    segment_nrefs: list[int | None] = [None] * len(records)
    sentence_metric = _sacrebleu_metric(name, options, sentence=True)
    for i, stat, ref in zip(usable, stats, refs, strict=True):
        segments[i] = float(sentence_metric._aggregate_and_compute([stat]).score)
        segment_stats[i] = [float(x) if isinstance(x, float) else int(x) for x in stat]
        segment_nrefs[i] = len(ref)
    return MetricResult(name=name, value=float(corpus.score), segments=tuple(segments),
                        details={**details, "segment_stats": segment_stats,
                                 "segment_nrefs": segment_nrefs})


def _sacrebleu_details(name: str, metric: Metric, corpus: Any, n: int) -> dict[str, Any]:
    details: dict[str, Any] = {
        "signature": str(metric.get_signature()),
        "versions": library_versions("sacrebleu"),
        "n": n,
    }
    if name == "bleu":
        details.update(sys_len=corpus.sys_len, ref_len=corpus.ref_len,
                       precisions=list(corpus.precisions))
    return details


SACREBLEU_METRICS = frozenset({"bleu", "chrf", "chrf++", "ter"})


def sacrebleu_from_stats(
    name: str, stats: Sequence[Sequence[float]], nrefs: Sequence[int], options: MetricOptions
) -> MetricResult:
    """A sacrebleu corpus score from segment statistics (details["segment_stats"] and
    ["segment_nrefs"] of earlier results): equal to corpus_score over the same segments,
    which sums the same statistics; the signature's nrefs as sacrebleu sets it."""
    if not stats:
        return missing(name, "no outputs")
    metric = _sacrebleu_metric(name, options, sentence=False)
    distinct = set(nrefs)
    metric.num_refs = next(iter(distinct)) if len(distinct) == 1 else -1
    corpus = metric._aggregate_and_compute([list(stat) for stat in stats])
    return MetricResult(name=name, value=float(corpus.score),
                        details=_sacrebleu_details(name, metric, corpus, len(stats)))


def bleu(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Corpus BLEU (0–100) with sacrebleu; tokenizer from options (13a, zh, intl, char)."""
    return _sacrebleu_compute("bleu", records, options)


def chrf(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Corpus chrF (0–100, Popović 2015) with sacrebleu (char n=6, beta=2)."""
    return _sacrebleu_compute("chrf", records, options)


def chrf_pp(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Corpus chrF++ (0–100, Popović 2017): chrF plus word bigrams (sacrebleu word_order=2)."""
    return _sacrebleu_compute("chrf++", records, options)


def ter(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Corpus TER (edits / reference words × 100, Snover 2006) with sacrebleu; lower is better."""
    return _sacrebleu_compute("ter", records, options)


class _SacrebleuWordTokenizer:
    """rouge-score tokenizer interface over a sacrebleu tokenizer (for non-English text)."""

    def __init__(self, name: str) -> None:
        self._tokenize = BLEU(tokenize=name).tokenizer

    def tokenize(self, text: str) -> list[str]:
        return self._tokenize(text.lower()).split()


def _rouge_scorer(rouge_types: Sequence[str], options: MetricOptions) -> rouge_scorer.RougeScorer:
    if options.tokenize == "13a":
        return rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=options.use_stemmer)
    # rouge-score's default tokenizer keeps only [a-z0-9]; other scripts need sacrebleu's.
    return rouge_scorer.RougeScorer(
        list(rouge_types), use_stemmer=False,
        tokenizer=_SacrebleuWordTokenizer(options.tokenize),
    )


ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def rouge_many(rouge_types: Sequence[str], records: Sequence[OutputRecord],
               options: MetricOptions) -> dict[str, MetricResult]:
    """Several ROUGE types with one RougeScorer: each text is tokenized (and stemmed) once
    for all of them, as rouge-score does for a scorer of several types. Results equal the
    one-type metrics'."""
    usable, reason = _usable(records)
    if reason:
        return {t: missing(t, reason, len(records)) for t in rouge_types}
    scorer = _rouge_scorer(rouge_types, options)
    segments: dict[str, list[float | None]] = {t: [None] * len(records) for t in rouge_types}
    for i in usable:
        refs = [ref for ref in records[i].references if ref]
        best = scorer.score_multi(refs, records[i].text or "")
        for t in rouge_types:
            segments[t][i] = float(best[t].fmeasure)
    details = {
        "stemmer": options.use_stemmer and options.tokenize == "13a",
        "tokenizer": "rouge-score" if options.tokenize == "13a" else options.tokenize,
        "multi_reference": "best F-measure (rouge-score score_multi)",
        "versions": library_versions("rouge-score"), "n": len(usable),
    }
    return {t: MetricResult(name=t, value=segment_mean(segments[t]),
                            segments=tuple(segments[t]), details=details)
            for t in rouge_types}


def _rouge(rouge_type: str) -> Callable[[Sequence[OutputRecord], MetricOptions], MetricResult]:
    def compute(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
        return rouge_many([rouge_type], records, options)[rouge_type]

    compute.__doc__ = f"Mean {rouge_type} F-measure (0–1) with rouge-score, best reference."
    return compute


class _NoSynonyms:
    """A WordNet stand-in with no synsets: nltk's METEOR then matches exact and stem only."""

    def synsets(self, lemma: str, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def wordnet_find(data_dir: Path | None = None) -> Path | None:
    """The `corpora/wordnet` folder under data_dir, else on nltk.data.path (incl. NLTK_DATA)."""
    roots = [data_dir] if data_dir is not None else [Path(p) for p in nltk.data.path]
    for root in roots:
        folder = root / "corpora" / "wordnet"
        if (folder / "lexnames").is_file() and (folder / "data.noun").is_file():
            return folder
    return None


class _EnglishWordNet(WordNetCorpusReader):
    """nltk's reader without the WordNet 3.0 → loaded-version synset map.

    The reader builds that map at start-up (reading index.sense twice: ~5 s of its ~8 s
    load per process) for one use only: mapping Open Multilingual Wordnet tab files onto
    the loaded version. METEOR reads English synonyms and no OMW data is loaded
    (omw_reader None), so the map is never read.
    """

    def map_wn(self, version: str = "wordnet") -> None:
        return None


@lru_cache(maxsize=4)
def wordnet_load(folder: Path) -> WordNetCorpusReader:
    """A WordNet reader over a plain (unzipped) NLTK WordNet folder, English only.

    nltk ≥ 3.9.3 reads corpora only under nltk.data.path/NLTK_DATA, so the folder's data
    dir is appended to nltk.data.path when missing (a process-wide, additive change).
    """
    data_dir = str(folder.parent.parent)
    if data_dir not in nltk.data.path:
        nltk.data.path.append(data_dir)
    with warnings.catch_warnings():
        # The multilingual (OMW) functions are not needed for English METEOR.
        warnings.simplefilter("ignore", UserWarning)
        return _EnglishWordNet(str(folder), None)


def meteor(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Mean METEOR (0–1, Banerjee & Lavie 2005) with nltk.translate.meteor_score.

    Text is split into words with the campaign's sacrebleu tokenizer. WordNet comes from
    options.wordnet_dir or NLTK_DATA; without it the result's details record
    mode "exact+stem" (nltk's exact and Porter-stem stages, no synonyms).
    """
    usable, reason = _usable(records)
    if reason:
        return missing("meteor", reason, len(records))
    folder = wordnet_find(options.wordnet_dir)
    wordnet: Any = wordnet_load(folder) if folder else _NoSynonyms()
    tokenize = BLEU(tokenize=options.tokenize).tokenizer
    segments: list[float | None] = [None] * len(records)
    for i in usable:
        refs = [tokenize(ref).split() for ref in records[i].references if ref]
        hyp = tokenize(records[i].text or "").split()
        segments[i] = float(meteor_score(refs, hyp, wordnet=wordnet))
    details = {
        "mode": "exact+stem+synonym" if folder else "exact+stem",
        "wordnet": str(folder) if folder else None,
        "tokenizer": options.tokenize,
        "versions": library_versions("nltk", "sacrebleu"), "n": len(usable),
    }
    return MetricResult(name="meteor", value=segment_mean(segments), segments=tuple(segments),
                        details=details)


def perplexity(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Pooled perplexity exp(Σ −log p / N tokens) over all outputs' natural-log token logprobs.

    Segments are per-output exp(mean NLL). Outputs without logprobs are skipped.
    """
    usable = [i for i, r in enumerate(records) if r.logprobs]
    if not usable:
        return missing("perplexity", "no logprobs" if records else "no outputs", len(records))
    if any(not math.isfinite(lp) or lp > 0 for i in usable for lp in records[i].logprobs or ()):
        return missing("perplexity", "logprobs must be finite and ≤ 0", len(records))
    segments: list[float | None] = [None] * len(records)
    total_nll, total_tokens = 0.0, 0
    for i in usable:
        logprobs = records[i].logprobs or ()
        nll = -math.fsum(logprobs)
        segments[i] = exp_or_none(nll / len(logprobs))
        total_nll += nll
        total_tokens += len(logprobs)
    value = exp_or_none(total_nll / total_tokens)
    return MetricResult(
        name="perplexity", value=value, segments=tuple(segments),
        details={"tokens": total_tokens, "n": len(usable)},
        reason=None if value is not None else "perplexity overflows a float",
    )


def exact_match(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Share of outputs whose stripped text equals any stripped reference (0–1)."""
    usable, reason = _usable(records)
    if reason:
        return missing("exact_match", reason, len(records))
    segments: list[float | None] = [None] * len(records)
    lengths: list[int] = []
    for i in usable:
        text = (records[i].text or "").strip()
        refs = {ref.strip() for ref in records[i].references if ref}
        if options.lowercase:
            text, refs = text.lower(), {ref.lower() for ref in refs}
        segments[i] = 1.0 if text in refs else 0.0
        lengths.append(len(text.split()))
    details = {"n": len(usable), "mean_output_words": math.fsum(lengths) / len(lengths)}
    return MetricResult(name="exact_match", value=segment_mean(segments),
                        segments=tuple(segments), details=details)


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("bleu", TEXT_REFS, (0.0, 100.0), True, True, bleu),
    MetricSpec("chrf", TEXT_REFS, (0.0, 100.0), True, True, chrf),
    MetricSpec("chrf++", TEXT_REFS, (0.0, 100.0), True, True, chrf_pp),
    MetricSpec("ter", TEXT_REFS, (0.0, math.inf), False, True, ter),
    *(MetricSpec(t, TEXT_REFS, (0.0, 1.0), True, True, _rouge(t))
      for t in ("rouge1", "rouge2", "rougeL", "rougeLsum")),
    MetricSpec("meteor", TEXT_REFS, (0.0, 1.0), True, True, meteor),
    MetricSpec("perplexity", frozenset({Need.LOGPROBS}), (1.0, math.inf), False, True,
               perplexity),
    MetricSpec("exact_match", TEXT_REFS, (0.0, 1.0), True, True, exact_match),
)
