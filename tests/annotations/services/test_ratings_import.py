"""ratings_import: judgments land as ratings and values; bad rows are one line, nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from annotations.models import Campaign, CampaignMembership, Rating, RatingValue
from annotations.services import ImportFailed, campaign_import, ratings_import
from tests.conftest import write_jsonl
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign(bundle) -> Campaign:
    spec_path, outputs_path = bundle()
    with spec_path.open("rb") as spec, outputs_path.open("rb") as outputs:
        return campaign_import(spec_stream=spec, spec_name="spec.json", outputs_stream=outputs,
                               outputs_name="outputs.jsonl").campaign


def judgment(item: str = "q1", system: str = "base", rater: str = "ann",
             criterion: str = "fluency", value: Any = 4) -> dict[str, Any]:
    return {"item_id": item, "system": system, "rater": rater, "criterion": criterion,
            "value": value}


def load(campaign: Campaign, path: Path) -> Any:
    with path.open("rb") as stream:
        return ratings_import(campaign=campaign, stream=stream, name=path.name)


def test_judgments_become_one_rating_per_rater_and_output_with_values(campaign, tmp_path):
    rows = [judgment(), judgment(criterion="accuracy", value=2.5), judgment(rater="bob", value=5),
            judgment(item="q2", system="ft", value=1)]
    result = load(campaign, write_jsonl(tmp_path / "r.jsonl", rows))
    assert (result.rows, result.ratings_created, result.raters_created) == (4, 3, 2)
    ann = Rating.objects.get(rater__username="ann", output__item__external_id="q1")
    assert ann.source == Rating.Source.IMPORT
    assert {v.criterion.key: v.value for v in ann.values.all()} == {"fluency": 4, "accuracy": 2.5}
    assert set(CampaignMembership.objects.filter(campaign=campaign, role="rater")
               .values_list("user__username", flat=True)) == {"ann", "bob"}
    # imported raters cannot log in until someone gives them a password
    assert not ann.rater.has_usable_password()


def test_a_later_file_can_add_criteria_to_existing_ratings(campaign, tmp_path):
    load(campaign, write_jsonl(tmp_path / "a.jsonl", [judgment()]))
    load(campaign, write_jsonl(tmp_path / "b.jsonl", [judgment(criterion="accuracy")]))
    assert Rating.objects.count() == 1 and RatingValue.objects.count() == 2


def test_csv_judgments(campaign, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("item_id,system,rater,criterion,value\nq1,base,ann,fluency,3\n"
                    "q1,ft,ann,fluency,4.5\n", encoding="utf-8")
    assert load(campaign, path).rows == 2
    assert sorted(RatingValue.objects.values_list("value", flat=True)) == [3.0, 4.5]


BAD_JUDGMENTS = [
    pytest.param([judgment(), judgment(item="q2", value="N/A (no response)")],
                 'r.jsonl:2: field "value": "N/A (no response)" is not a number', id="non-numeric"),
    pytest.param([judgment(value=6)],
                 "r.jsonl:1: field \"value\": 6 is outside the scale of 'fluency' (1–5)",
                 id="out-of-scale"),
    pytest.param([judgment(value=True)], 'r.jsonl:1: field "value": true is not a number',
                 id="boolean"),
    pytest.param([judgment(value=None)], 'r.jsonl:1: field "value": missing', id="null"),
    pytest.param([judgment(criterion="tone")],
                 "r.jsonl:1: field \"criterion\": unknown criterion 'tone' (campaign has "
                 "accuracy, fluency)", id="unknown-criterion"),
    pytest.param([judgment(item="q99")], "r.jsonl:1: field \"item_id\": unknown item 'q99'",
                 id="unknown-item"),
    pytest.param([judgment(system="gpt-9")], "r.jsonl:1: field \"system\": unknown system 'gpt-9'",
                 id="unknown-system"),
    pytest.param([judgment(), judgment(value=2)],
                 'r.jsonl:2: field "value": duplicate rating: this rater already rated this '
                 "output on this criterion", id="duplicate-in-file"),
    pytest.param([{"item_id": "q1", "system": "base", "criterion": "fluency", "value": 3}],
                 'r.jsonl:1: field "rater": missing', id="missing-rater"),
    pytest.param([judgment(rater=17.5)], 'r.jsonl:1: field "rater": expected a string, got float',
                 id="wrong-type"),
    pytest.param([], "r.jsonl:1: file is empty (no rows)", id="empty"),
]


@pytest.mark.parametrize(("rows", "message"), BAD_JUDGMENTS)
def test_bad_judgments_give_one_line_and_change_nothing(campaign, tmp_path, rows, message):
    path = write_jsonl(tmp_path / "r.jsonl", rows)
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        load(campaign, path)
    assert str(failure.value.problems[0]) == message
    assert row_counts() == before


def test_duplicate_of_an_earlier_import_is_refused_and_nothing_new_is_written(campaign, tmp_path):
    load(campaign, write_jsonl(tmp_path / "a.jsonl", [judgment()]))
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        load(campaign, write_jsonl(tmp_path / "b.jsonl",
                                   [judgment(rater="new-person"), judgment(value=1)]))
    assert (failure.value.problems[0].line, failure.value.problems[0].field) == (2, "value")
    assert row_counts() == before


def test_a_duplicate_across_batches_names_its_line(campaign, tmp_path, monkeypatch):
    monkeypatch.setattr("annotations.services.imports.common.BATCH_SIZE", 2)
    rows = [judgment(), judgment(item="q2"), judgment(item="q3"), judgment(value=1)]
    before = row_counts()
    with pytest.raises(ImportFailed) as failure:
        load(campaign, write_jsonl(tmp_path / "r.jsonl", rows))
    assert failure.value.problems[0].line == 4
    assert row_counts() == before


def test_invalid_utf8_in_judgments(campaign, tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"item_id": "q1", "system": "base", "rater": "\xe9", "criterion": '
                     b'"fluency", "value": 3}\n')
    with pytest.raises(ImportFailed) as failure:
        load(campaign, path)
    assert str(failure.value.problems[0]).startswith("r.jsonl:1: invalid UTF-8 (byte 0xe9")


def test_all_problems_of_a_file_are_listed_in_one_run(campaign, tmp_path):
    rows = [judgment(value="N/A"), judgment(item="q2"), judgment(item="zz")]
    with pytest.raises(ImportFailed) as failure:
        load(campaign, write_jsonl(tmp_path / "r.jsonl", rows))
    assert [(p.line, p.field) for p in failure.value.problems] == [(1, "value"), (3, "item_id")]
