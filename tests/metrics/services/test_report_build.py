"""report_build: every number checked against numpy, scipy and krippendorff on the same data."""

from __future__ import annotations

import io
import json
from typing import Any

import krippendorff
import numpy as np
import pytest
from scipy import stats

from annotations.services import campaign_import, ratings_import
from metrics.compute.scores import wilcoxon_method
from metrics.services import report_build

pytestmark = pytest.mark.django_db

RATERS = ["r1", "r2", "r3", "r4"]
SYSTEMS = ["base", "ft", "ft2"]
LEVELS = {"fluency": "ordinal", "accuracy": "interval", "topic": "nominal"}


def make_campaign(rng: np.random.Generator, items: int = 12, missing: float = 0.25
                  ) -> tuple[Any, list[dict[str, Any]]]:
    spec = {
        "name": "R", "slug": "r", "baseline": "base",
        "criteria": [{"key": k, "label": k, "min": 1, "max": 5, "level": lvl}
                     for k, lvl in LEVELS.items()],
    }
    outputs = "".join(
        json.dumps({"item_id": f"i{i}", "system": s, "output": f"{s}-{i}"}) + "\n"
        for i in range(items) for s in SYSTEMS
    )
    campaign = campaign_import(
        spec_stream=io.BytesIO(json.dumps(spec).encode()), spec_name="spec.json",
        outputs_stream=io.BytesIO(outputs.encode()), outputs_name="o.jsonl",
    ).campaign
    rows = []
    for i in range(items):
        for s_index, s in enumerate(SYSTEMS):
            for rater in RATERS:
                for key in LEVELS:
                    if rng.random() < missing:
                        continue
                    value = int(np.clip(rng.integers(1, 6) + s_index // 2, 1, 5))
                    rows.append({"item_id": f"i{i}", "system": s, "rater": rater,
                                 "criterion": key, "value": value})
    ratings_import(campaign=campaign, stream=io.BytesIO(
        "".join(json.dumps(r) + "\n" for r in rows).encode()), name="j.jsonl")
    return campaign, rows


@pytest.fixture
def data() -> tuple[Any, list[dict[str, Any]]]:
    return make_campaign(np.random.default_rng(42))


def test_means_and_counts_equal_numpy(data):
    campaign, rows = data
    report = report_build(campaign=campaign, n_resamples=50)
    for system in report["systems"]:
        for key in LEVELS:
            values = [r["value"] for r in rows if r["system"] == system["name"]
                      and r["criterion"] == key]
            entry = system["criteria"][key]
            assert entry["n"] == len(values)
            assert entry["mean"] == pytest.approx(np.mean(values), abs=1e-12)
            assert entry["ci_low"] <= entry["mean"] <= entry["ci_high"]


def test_alpha_equals_krippendorff_on_the_raters_by_outputs_matrix(data):
    campaign, rows = data
    report = report_build(campaign=campaign, n_resamples=50)
    units = [(i, s) for i in sorted({r["item_id"] for r in rows}) for s in SYSTEMS]
    for key, level in LEVELS.items():
        matrix = np.full((len(RATERS), len(units)), np.nan)
        for r in rows:
            if r["criterion"] == key:
                matrix[RATERS.index(r["rater"]), units.index((r["item_id"], r["system"]))] = \
                    r["value"]
        expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement=level)
        entry = report["agreement"][key]
        assert entry["level"] == level
        assert entry["krippendorff_alpha"] == pytest.approx(expected, abs=1e-9)
        assert entry["units"] == int((np.sum(~np.isnan(matrix), axis=0) >= 2).sum())
        assert entry["ci_low"] <= entry["krippendorff_alpha"] <= entry["ci_high"]


def test_z_mean_is_the_mean_of_per_rater_z_scores(data):
    campaign, rows = data
    report = report_build(campaign=campaign, n_resamples=0)
    for key in LEVELS:
        mine = [r for r in rows if r["criterion"] == key]
        z_by_row: dict[int, float] = {}
        for rater in RATERS:
            indices = [n for n, r in enumerate(mine) if r["rater"] == rater]
            z = stats.zscore([mine[n]["value"] for n in indices])
            z_by_row.update(zip(indices, z, strict=True))
        for system in report["systems"]:
            expected = np.mean([z_by_row[n] for n, r in enumerate(mine)
                                if r["system"] == system["name"]])
            assert system["criteria"][key]["z_mean"] == pytest.approx(expected, abs=1e-12)


def test_delta_vs_baseline_is_a_paired_wilcoxon_on_item_means(data):
    campaign, rows = data
    report = report_build(campaign=campaign, n_resamples=0)
    for system in report["systems"]:
        if system["is_baseline"]:
            assert system["delta_vs_baseline"] == {}
            continue
        for key in LEVELS:
            def item_means(name: str, key: str = key) -> dict[str, float]:
                by_item: dict[str, list[int]] = {}
                for r in rows:
                    if r["system"] == name and r["criterion"] == key:
                        by_item.setdefault(r["item_id"], []).append(r["value"])
                return {i: float(np.mean(v)) for i, v in by_item.items()}

            ours, base = item_means(system["name"]), item_means("base")
            common = sorted(ours.keys() & base.keys())
            a = np.array([ours[i] for i in common])
            b = np.array([base[i] for i in common])
            entry = system["delta_vs_baseline"][key]
            assert entry["delta"] == pytest.approx(np.mean(a - b), abs=1e-12)
            assert entry["p_value"] == pytest.approx(
                stats.wilcoxon(a, b, zero_method="pratt", method=wilcoxon_method(a - b)).pvalue,
                abs=1e-12)
            assert entry["n_items"] == len(common)


def test_report_is_reproducible_and_valid_strict_json(data):
    campaign, _ = data
    first = report_build(campaign=campaign, n_resamples=100)
    second = report_build(campaign=campaign, n_resamples=100)
    first.pop("generated_at"), second.pop("generated_at")
    assert first == second
    json.dumps(first, allow_nan=False)


def test_undefined_values_are_null_with_a_reason(db):
    # given one rater only: no pairable unit, no variance for z
    campaign, _ = make_campaign(np.random.default_rng(1), items=3, missing=0.0)
    campaign.criteria.exclude(key="fluency").delete()
    from annotations.models import RatingValue

    RatingValue.objects.exclude(rating__rater__username="r1").delete()
    report = report_build(campaign=campaign, n_resamples=20)
    agreement = report["agreement"]["fluency"]
    assert agreement["krippendorff_alpha"] is None
    assert agreement["units"] == 0 and agreement["reason"]


def test_system_without_ratings_has_null_mean_with_reason(db):
    campaign, _ = make_campaign(np.random.default_rng(3), items=2, missing=0.0)
    from annotations.models import RatingValue

    RatingValue.objects.filter(rating__output__system__name="ft2").delete()
    report = report_build(campaign=campaign, n_resamples=20)
    ft2 = next(s for s in report["systems"] if s["name"] == "ft2")
    assert ft2["criteria"]["fluency"]["mean"] is None
    assert ft2["criteria"]["fluency"]["n"] == 0 and ft2["criteria"]["fluency"]["reason"]


def test_systems_on_disjoint_items_get_an_unpaired_mann_whitney(db):
    # given the baseline rated only on even items and "ft" only on odd ones
    campaign, rows = make_campaign(np.random.default_rng(11), items=12, missing=0.0)
    from annotations.models import RatingValue

    RatingValue.objects.filter(rating__output__system__name="base",
                               rating__output__item__external_id__regex=r"[13579]$").delete()
    RatingValue.objects.filter(rating__output__system__name="ft",
                               rating__output__item__external_id__regex=r"[02468]$").delete()
    kept = [r for r in rows if not (
        (r["system"] == "base" and int(r["item_id"][1:]) % 2 == 1)
        or (r["system"] == "ft" and int(r["item_id"][1:]) % 2 == 0))]
    report = report_build(campaign=campaign, n_resamples=0)

    def item_means(name: str) -> list[float]:
        by_item: dict[str, list[int]] = {}
        for r in kept:
            if r["system"] == name and r["criterion"] == "fluency":
                by_item.setdefault(r["item_id"], []).append(r["value"])
        return [float(np.mean(v)) for v in by_item.values()]

    ft, base = item_means("ft"), item_means("base")
    entry = next(s for s in report["systems"] if s["name"] == "ft")["delta_vs_baseline"]["fluency"]
    assert entry["test"] == "mann-whitney" and entry["n_items"] == 0
    assert entry["delta"] == pytest.approx(np.mean(ft) - np.mean(base), abs=1e-12)
    assert entry["p_value"] == pytest.approx(
        stats.mannwhitneyu(ft, base, alternative="two-sided").pvalue, abs=1e-12)
    assert "unpaired" in entry["reason"]


def test_correlations_are_scipy_on_per_output_mean_scores_and_segment_metrics(db):
    # given a campaign with human ratings and a finished metric run (sentence BLEU per output)
    from unittest import mock

    import sacrebleu

    from annotations.models import Output
    from metrics.services.runs import metric_run_start
    from tests.metrics.services.test_metric_runs import run_all

    campaign, rows = make_campaign(np.random.default_rng(21), items=10, missing=0.1)
    for n, output in enumerate(Output.objects.filter(item__campaign=campaign).order_by("id")):
        output.text = " ".join(["the", "cat", "sat", "on", "a", "mat"][: 2 + n % 5])
        output.save(update_fields=["text"])
    campaign.items.update(references=["the cat sat on a mat"])
    with mock.patch("metrics.services.runs.lifecycle.metric_run_queue"):
        run = metric_run_start(campaign=campaign, metrics=["bleu"])
    run_all(run)
    # when the report is built
    report = report_build(campaign=campaign, n_resamples=0)
    # then fluency vs BLEU is scipy's correlation of per-output mean fluency and sentence BLEU
    outputs = {(o.item.external_id, o.system.name): o.text
               for o in Output.objects.filter(item__campaign=campaign).select_related("item",
                                                                                      "system")}
    by_output: dict[tuple[str, str], list[int]] = {}
    for r in rows:
        if r["criterion"] == "fluency":
            by_output.setdefault((r["item_id"], r["system"]), []).append(r["value"])
    keys = sorted(by_output)
    human = [float(np.mean(by_output[k])) for k in keys]
    bleu = [sacrebleu.sentence_bleu(outputs[k], ["the cat sat on a mat"]).score for k in keys]
    entry = report["correlations"]["fluency"]["bleu"]
    assert entry["n"] == len(keys)
    assert entry["pearson"] == pytest.approx(stats.pearsonr(human, bleu).statistic, abs=1e-9)
    assert entry["spearman"] == pytest.approx(stats.spearmanr(human, bleu).statistic, abs=1e-9)
    assert entry["kendall"] == pytest.approx(stats.kendalltau(human, bleu).statistic, abs=1e-9)
