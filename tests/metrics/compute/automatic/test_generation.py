"""Generation metrics against sacrebleu, rouge-score and nltk, plus their published examples."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import sacrebleu
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF, TER

from metrics.compute.automatic import MetricOptions, OutputRecord, metric_compute
from metrics.compute.automatic.generation import wordnet_load

# sacrebleu README example: two reference streams.
SACREBLEU_REFS = [
    ["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
    ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."],
]
SACREBLEU_SYS = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]

# NLTK meteor_score docstring example.
NLTK_HYP = ("It is a guide to action which ensures that the military always obeys the "
            "commands of the party")
NLTK_REFS = (
    "It is a guide to action that ensures that the military will forever heed Party commands",
    "It is the guiding principle which guarantees the military forces always being under the "
    "command of the Party",
    "It is the practical guide for the army always to heed the directions of the party",
)


def readme_records() -> list[OutputRecord]:
    return [OutputRecord(text=hyp, references=refs)
            for hyp, refs in zip(SACREBLEU_SYS, zip(*SACREBLEU_REFS, strict=True), strict=True)]


@pytest.mark.parametrize(("name", "published"), [("bleu", 48.53), ("chrf", 59.73)])
def test_sacrebleu_readme_example_matches_published_scores(name: str, published: float) -> None:
    # given the sacrebleu README corpus; when computed; then the README's numbers come out
    result = metric_compute(name, readme_records())
    assert round(result.value or 0, 2) == published


@pytest.mark.parametrize("tokenize", ["13a", "zh", "intl", "char"])
@pytest.mark.parametrize("name", ["bleu", "chrf", "chrf++", "ter"])
def test_sacrebleu_metrics_equal_direct_library_calls(name: str, tokenize: str) -> None:
    options = MetricOptions(tokenize=tokenize)
    asian = tokenize in ("zh", "char")
    metric = {"bleu": BLEU(tokenize=tokenize), "chrf": CHRF(), "chrf++": CHRF(word_order=2),
              "ter": TER(asian_support=asian)}[name]
    expected = metric.corpus_score(SACREBLEU_SYS, SACREBLEU_REFS)

    result = metric_compute(name, readme_records(), options)

    assert result.value == pytest.approx(expected.score)
    assert result.details["signature"] == str(metric.get_signature())
    assert result.details["versions"] == {"sacrebleu": sacrebleu.__version__}
    sentence = {"bleu": BLEU(tokenize=tokenize, effective_order=True), "chrf": CHRF(),
                "chrf++": CHRF(word_order=2), "ter": TER(asian_support=asian)}[name]
    assert result.segments == pytest.approx([
        sentence.sentence_score(hyp, list(refs)).score
        for hyp, refs in zip(SACREBLEU_SYS, zip(*SACREBLEU_REFS, strict=True), strict=True)])


def test_sacrebleu_readme_variable_reference_example() -> None:
    # given the README's variant where the first sentence lacks its first reference
    records = readme_records()
    records[0] = OutputRecord(text=records[0].text, references=("", records[0].references[1]))
    result = metric_compute("bleu", records)
    assert round(result.value or 0, 2) == 29.44
    assert result.details["signature"].startswith("nrefs:var|case:mixed|eff:no|tok:13a|")


def test_bleu_signature_records_tokenizer_and_reference_count() -> None:
    result = metric_compute("bleu", readme_records(), MetricOptions(tokenize="zh"))
    assert "nrefs:2|" in result.details["signature"]
    assert "tok:zh|" in result.details["signature"]


def test_bleu_variable_reference_counts_pad_with_none_like_sacrebleu() -> None:
    # given one output with two references and one with a single reference
    records = [OutputRecord(text="the cat sat", references=("the cat sat", "a cat sat")),
               OutputRecord(text="hello there", references=("hello here",))]
    expected = BLEU().corpus_score(["the cat sat", "hello there"],
                                   [["the cat sat", "hello here"], ["a cat sat", None]])
    assert metric_compute("bleu", records).value == pytest.approx(expected.score)


def test_rouge_documented_example_hand_checked() -> None:
    # rouge-score README example: 6 of 8/9 unigrams overlap, LCS of 5 words
    records = [OutputRecord(text="The quick brown dog jumps on the log.",
                            references=("The quick brown fox jumps over the lazy dog",))]
    assert metric_compute("rouge1", records).value == pytest.approx(12 / 17)
    assert metric_compute("rougeL", records).value == pytest.approx(10 / 17)


@pytest.mark.parametrize("rouge_type", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
def test_rouge_equals_rouge_score_best_reference(rouge_type: str) -> None:
    records = readme_records() + [OutputRecord(text="Cats sat.\nOn the mat.",
                                               references=("The cat sat.\nOn a mat.",))]
    scorer = rouge_scorer.RougeScorer([rouge_type], use_stemmer=True)
    expected = [max(scorer.score(ref, r.text or "")[rouge_type].fmeasure for ref in r.references)
                for r in records]

    result = metric_compute(rouge_type, records)

    assert result.segments == pytest.approx(expected)
    assert result.value == pytest.approx(sum(expected) / len(expected))
    assert result.details["stemmer"] is True


def test_meteor_nltk_docstring_example_with_wordnet(wordnet_dir: Path) -> None:
    # given WordNet built from Debian's files; then the NLTK docstring's 0.6944
    records = [OutputRecord(text=NLTK_HYP, references=NLTK_REFS)]
    result = metric_compute("meteor", records, MetricOptions(wordnet_dir=wordnet_dir))
    assert round(result.value or 0, 4) == 0.6944
    assert result.details["mode"] == "exact+stem+synonym"


def test_meteor_equals_nltk_on_the_same_tokens(wordnet_dir: Path) -> None:
    records = readme_records()
    wordnet = wordnet_load(wordnet_dir / "corpora" / "wordnet")
    tokenize = BLEU().tokenizer
    expected = [meteor_score([tokenize(ref).split() for ref in r.references],
                             tokenize(r.text or "").split(), wordnet=wordnet) for r in records]
    result = metric_compute("meteor", records, MetricOptions(wordnet_dir=wordnet_dir))
    assert result.segments == pytest.approx(expected)


def test_meteor_without_wordnet_runs_exact_and_stem_only(tmp_path: Path,
                                                         wordnet_dir: Path) -> None:
    # given no WordNet under the data dir; then the mode says so and synonyms no longer help
    records = [OutputRecord(text=NLTK_HYP, references=NLTK_REFS)]
    without = metric_compute("meteor", records, MetricOptions(wordnet_dir=tmp_path))
    with_wn = metric_compute("meteor", records, MetricOptions(wordnet_dir=wordnet_dir))
    assert without.details["mode"] == "exact+stem"
    assert 0 < (without.value or 0) <= (with_wn.value or 0)
    # identical text matches exactly in both modes, as in nltk
    same = [OutputRecord(text="the cats sat", references=("the cat sat",))]
    assert metric_compute("meteor", same, MetricOptions(wordnet_dir=tmp_path)).value == \
        pytest.approx(meteor_score([["the", "cat", "sat"]], ["the", "cats", "sat"],
                                   wordnet=wordnet_load(wordnet_dir / "corpora" / "wordnet")))


def test_perplexity_pools_tokens_over_outputs() -> None:
    # given outputs of 1 and 3 tokens; then exp(total NLL / 4), not the mean of perplexities
    records = [OutputRecord(logprobs=(math.log(0.5),)),
               OutputRecord(logprobs=(math.log(0.25),) * 3)]
    result = metric_compute("perplexity", records)
    assert result.value == pytest.approx(math.exp((math.log(2) + 3 * math.log(4)) / 4))
    assert result.segments == pytest.approx([2.0, 4.0])


def test_exact_match_compares_stripped_text_with_any_reference() -> None:
    records = [OutputRecord(text=" Paris ", references=("London", "Paris")),
               OutputRecord(text="paris", references=("Paris",))]
    result = metric_compute("exact_match", records)
    assert result.segments == (1.0, 0.0)
    assert result.value == 0.5


@pytest.mark.parametrize("name", ["bleu", "chrf", "chrf++", "ter", "rouge1", "rouge2", "rougeL",
                                  "rougeLsum", "meteor", "exact_match"])
@pytest.mark.parametrize(("records", "reason"), [
    ([], "no outputs"),
    ([OutputRecord(text="a b c")], "no references"),
    ([OutputRecord(text="a b c", references=("",))], "no references"),
    ([OutputRecord(text=None, references=("a",))], "no output text"),
])
def test_text_metrics_without_data_give_none_with_reason(
    name: str, records: list[OutputRecord], reason: str
) -> None:
    result = metric_compute(name, records)
    assert result.value is None
    assert result.reason == reason


@pytest.mark.parametrize(("records", "reason"), [
    ([], "no outputs"), ([OutputRecord(text="a")], "no logprobs"),
    ([OutputRecord(text="a", logprobs=())], "no logprobs"),
])
def test_perplexity_without_logprobs_is_none(records: list[OutputRecord], reason: str) -> None:
    result = metric_compute("perplexity", records)
    assert (result.value, result.reason) == (None, reason)


def test_records_missing_references_are_skipped_with_none_segments() -> None:
    records = [OutputRecord(text="the cat", references=("the cat",)), OutputRecord(text="x")]
    result = metric_compute("bleu", records)
    assert result.value == pytest.approx(BLEU().corpus_score(["the cat"], [["the cat"]]).score)
    assert result.segments is not None and result.segments[1] is None


@pytest.mark.parametrize("logprobs", [(-1.0, -math.inf), (-1.0, math.nan), (0.5,)])
def test_perplexity_rejects_impossible_logprobs(logprobs: tuple[float, ...]) -> None:
    result = metric_compute("perplexity", [OutputRecord(logprobs=logprobs)])
    assert result.value is None and result.reason == "logprobs must be finite and ≤ 0"


def test_corpus_only_option_skips_sentence_scores() -> None:
    result = metric_compute("bleu", readme_records(), MetricOptions(segments=False))
    assert result.segments is None
    assert round(result.value or 0, 2) == 48.53
