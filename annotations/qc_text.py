"""Degraded copies of a model output for quality control: pure functions of (text, rng).

WMT's direct-assessment campaigns hide "bad reference" items among the real ones: a copy of
a translation in which a random span of words is replaced by a phrase of the same length
taken from another translation, so it still reads fluently but is wrong (Graham, Baldwin,
Moffat and Zobel 2013, "Continuous measurement scales in human evaluation of machine
translation", LAW VII; Graham et al. 2017, "Can machine translation systems be evaluated by
the crowd alone?", Natural Language Engineering 23(1); the span lengths below are the ones
tabulated in the WMT16 findings, Bojar et al. 2016, §3.3). A rater who scores such copies
like the originals is not reading. We generalise the idea to three degradations:

- ``shuffle``: the same words in a different order;
- ``truncate``: only the first 25–75 % of the words;
- ``replace``: WMT's bad reference, a span replaced by words from another output.

Each function returns a text whose word sequence differs from the original, or raises
``NotDegradable`` when the text is too short for that method: ``shuffle`` needs at least two
different words, ``truncate`` at least two words, ``replace`` at least one word and a donor
offering a different span. The caller then picks another output; nothing is ever returned
unchanged. Words are whitespace-separated tokens (punctuation stays attached); the copy joins
them with single spaces.

No Django here: the module is tested on plain strings.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence

METHODS = ("shuffle", "truncate", "replace")

TRUNCATE_KEEP = (0.25, 0.75)


class NotDegradable(ValueError):
    """The text is too short (or the donors too similar) for this degradation."""


def words_of(text: str) -> list[str]:
    """The whitespace-separated words of text."""
    return text.split()


def shuffle_words(text: str, rng: random.Random) -> str:
    """The words of text in a random order that differs from the original one."""
    words = words_of(text)
    if len(set(words)) < 2:
        raise NotDegradable("shuffle needs at least two different words")
    shuffled = words[:]
    rng.shuffle(shuffled)
    if shuffled == words:
        # A one-step rotation equals the original only when all words are equal (excluded).
        shuffled = words[1:] + words[:1]
    return " ".join(shuffled)


def truncate_words(text: str, rng: random.Random,
                   keep: tuple[float, float] = TRUNCATE_KEEP) -> str:
    """The first ⌈n·f⌉ words, f uniform in `keep`, always at least one and fewer than n."""
    words = words_of(text)
    if len(words) < 2:
        raise NotDegradable("truncate needs at least two words")
    fraction = rng.uniform(*keep)
    kept = min(max(math.ceil(len(words) * fraction), 1), len(words) - 1)
    return " ".join(words[:kept])


def replaced_span_length(n_words: int) -> int:
    """How many words WMT's bad references replace in a text of n_words words."""
    if n_words < 1:
        raise NotDegradable("replace needs at least one word")
    for upper, span in ((1, 1), (5, 2), (8, 3), (15, 4), (20, 5)):
        if n_words <= upper:
            return span
    return n_words // 4


def replace_span(text: str, rng: random.Random, donors: Sequence[str]) -> str:
    """Replace a random span of words by a same-length span of words from one of the donors.

    Donors are tried in random order; one is usable when it has enough words and its span
    differs from the replaced one.
    """
    words = words_of(text)
    span = replaced_span_length(len(words))
    start = rng.randrange(len(words) - span + 1)
    original = words[start:start + span]
    for index in rng.sample(range(len(donors)), len(donors)):
        donor = words_of(donors[index])
        if len(donor) < span:
            continue
        offset = rng.randrange(len(donor) - span + 1)
        phrase = donor[offset:offset + span]
        if phrase != original:
            return " ".join(words[:start] + phrase + words[start + span:])
    raise NotDegradable(f"no donor offers a different span of {span} words")


def degrade(text: str, method: str, rng: random.Random, donors: Sequence[str] = ()) -> str:
    """Apply the named degradation (one of METHODS)."""
    simple: dict[str, Callable[[str, random.Random], str]] = {
        "shuffle": shuffle_words, "truncate": truncate_words}
    if method == "replace":
        return replace_span(text, rng, donors)
    if method not in simple:
        raise ValueError(f"unknown degradation {method!r}; use one of {', '.join(METHODS)}")
    return simple[method](text, rng)
