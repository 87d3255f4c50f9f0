"""Degradations for QC copies: pure functions of (text, rng), always changing the text."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from annotations import qc_text
from annotations.qc_text import (
    NotDegradable,
    degrade,
    replace_span,
    replaced_span_length,
    shuffle_words,
    truncate_words,
)

TEXT = "the quick brown fox jumps over the lazy dog near the river bank"
DONORS = ["a completely different sentence about cooking pasta with fresh basil and garlic",
          "stock markets fell sharply on monday after weak factory data"]
SEEDS = range(200)


@pytest.mark.parametrize("seed", SEEDS)
def test_shuffle_keeps_the_words_and_changes_their_order(seed):
    copy = shuffle_words(TEXT, random.Random(seed))

    assert Counter(copy.split()) == Counter(TEXT.split())
    assert copy.split() != TEXT.split()


def test_shuffle_of_two_words_is_always_the_other_order():
    assert {shuffle_words("hello world", random.Random(seed)) for seed in SEEDS} == {
        "world hello"}


@pytest.mark.parametrize("text", ["", "word", "same same same", "  \n "])
def test_shuffle_refuses_texts_without_two_different_words(text):
    with pytest.raises(NotDegradable):
        shuffle_words(text, random.Random(0))


def test_same_seed_gives_the_same_copy():
    assert shuffle_words(TEXT, random.Random(7)) == shuffle_words(TEXT, random.Random(7))
    assert truncate_words(TEXT, random.Random(7)) == truncate_words(TEXT, random.Random(7))
    assert replace_span(TEXT, random.Random(7), DONORS) == \
        replace_span(TEXT, random.Random(7), DONORS)


@pytest.mark.parametrize("seed", SEEDS)
def test_truncate_keeps_a_proper_prefix_of_a_quarter_to_three_quarters(seed):
    words = TEXT.split()

    kept = truncate_words(TEXT, random.Random(seed)).split()

    assert kept == words[:len(kept)]
    assert math.ceil(len(words) * 0.25) <= len(kept) <= math.ceil(len(words) * 0.75)
    assert len(kept) < len(words)


def test_truncate_of_two_words_keeps_the_first():
    assert {truncate_words("hello world", random.Random(s)) for s in SEEDS} == {"hello"}


@pytest.mark.parametrize("text", ["", "word", " word\n"])
def test_truncate_refuses_single_words(text):
    with pytest.raises(NotDegradable):
        truncate_words(text, random.Random(0))


# The WMT16 findings (Bojar et al. 2016, §3.3) tabulate the bad-reference span length by
# translation length: 1 -> 1, 2-5 -> 2, 6-8 -> 3, 9-15 -> 4, 16-20 -> 5, > 20 -> floor(N/4).
@pytest.mark.parametrize(("n", "span"), [
    (1, 1), (2, 2), (5, 2), (6, 3), (8, 3), (9, 4), (15, 4), (16, 5), (20, 5), (21, 5),
    (24, 6), (40, 10), (103, 25),
])
def test_replaced_span_length_follows_the_wmt_table(n, span):
    assert replaced_span_length(n) == span


def _runs(words: list[str], length: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + length]) for i in range(len(words) - length + 1)}


@pytest.mark.parametrize("seed", SEEDS)
def test_replace_swaps_one_span_for_a_run_of_a_donors_words(seed):
    words = TEXT.split()
    span = replaced_span_length(len(words))
    donor_runs = set().union(*(_runs(d.split(), span) for d in DONORS))

    copy = replace_span(TEXT, random.Random(seed), DONORS).split()

    assert len(copy) == len(words) and copy != words
    # some window of `span` words covers every change and reads as a run of a donor
    assert any(
        copy[:s] == words[:s] and copy[s + span:] == words[s + span:]
        and tuple(copy[s:s + span]) in donor_runs
        for s in range(len(words) - span + 1)
    )


def test_replace_works_on_a_single_word():
    assert replace_span("yes", random.Random(0), ["no"]) == "no"


@pytest.mark.parametrize("donors", [[], ["too short"], ["a a a a"]])
def test_replace_refuses_when_no_donor_offers_a_different_span(donors):
    # "a a a a" only offers spans equal to the replaced one
    with pytest.raises(NotDegradable):
        replace_span("a a a a a a", random.Random(0), donors)


def test_replace_refuses_an_empty_text():
    with pytest.raises(NotDegradable):
        replace_span("   ", random.Random(0), DONORS)


def test_degrade_dispatches_by_method_and_refuses_unknown_ones():
    for method in qc_text.METHODS:
        assert degrade(TEXT, method, random.Random(1), DONORS).split() != TEXT.split()
    with pytest.raises(ValueError, match="unknown degradation 'blur'"):
        degrade(TEXT, "blur", random.Random(1))
