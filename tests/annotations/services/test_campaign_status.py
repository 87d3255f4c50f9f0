"""Campaign lifecycle from the staff pages: status transitions, draft edits, outputs upload."""

from __future__ import annotations

import io
from typing import Any

import pytest

from annotations.models import Campaign, Criterion, Item, Output, System
from annotations.services.campaigns import (
    CampaignStateError,
    campaign_create,
    campaign_draft_update,
    campaign_outputs_upload,
    campaign_status_set,
)
from annotations.services.problems import ImportFailed
from annotations.services.spec import spec_validate
from tests.annotations.factories import (
    CampaignFactory,
    CriterionFactory,
    OutputFactory,
    RatingValueFactory,
    UserFactory,
)
from tests.conftest import SPEC, jsonl_bytes, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db

S = Campaign.Status


def _ready(status: str = S.DRAFT) -> Campaign:
    """A campaign with a criterion and an output, in the given status."""
    campaign = CampaignFactory(status=status)
    CriterionFactory(campaign=campaign, key="fluency")
    OutputFactory(item__campaign=campaign)
    return campaign


@pytest.mark.parametrize(("start", "target"), [
    (S.DRAFT, S.ACTIVE), (S.ACTIVE, S.PAUSED), (S.PAUSED, S.ACTIVE),
    (S.ACTIVE, S.CLOSED), (S.PAUSED, S.CLOSED),
])
def test_allowed_transitions_change_the_status(start: str, target: str) -> None:
    campaign = _ready(start)

    result = campaign_status_set(campaign=campaign, status=target, by=UserFactory())

    assert result.status == target
    campaign.refresh_from_db()
    assert campaign.status == target


@pytest.mark.parametrize(("start", "target"), [
    (S.DRAFT, S.PAUSED), (S.DRAFT, S.CLOSED), (S.ACTIVE, S.DRAFT), (S.PAUSED, S.DRAFT),
    (S.CLOSED, S.ACTIVE), (S.CLOSED, S.PAUSED), (S.CLOSED, S.DRAFT), (S.ACTIVE, S.ACTIVE),
])
def test_other_transitions_are_refused_and_change_nothing(start: str, target: str) -> None:
    campaign = _ready(start)

    with pytest.raises(CampaignStateError, match="cannot become"):
        campaign_status_set(campaign=campaign, status=target, by=UserFactory())
    campaign.refresh_from_db()
    assert campaign.status == start


def test_an_unknown_status_is_refused() -> None:
    campaign = _ready()
    with pytest.raises(CampaignStateError, match="unknown status"):
        campaign_status_set(campaign=campaign, status="running", by=UserFactory())


def test_starting_needs_outputs() -> None:
    campaign = CampaignFactory()
    CriterionFactory(campaign=campaign)

    with pytest.raises(CampaignStateError, match="upload the outputs"):
        campaign_status_set(campaign=campaign, status=S.ACTIVE, by=UserFactory())
    campaign.refresh_from_db()
    assert campaign.status == S.DRAFT


def test_starting_needs_criteria() -> None:
    campaign = CampaignFactory()
    OutputFactory(item__campaign=campaign)

    with pytest.raises(CampaignStateError, match="criterion"):
        campaign_status_set(campaign=campaign, status=S.ACTIVE, by=UserFactory())


def test_a_stale_copy_cannot_skip_a_state() -> None:
    campaign = _ready(S.ACTIVE)
    stale = Campaign.objects.get(pk=campaign.pk)
    campaign_status_set(campaign=campaign, status=S.CLOSED, by=UserFactory())

    # the stale object still says "active"; the locked row says closed
    with pytest.raises(CampaignStateError):
        campaign_status_set(campaign=stale, status=S.PAUSED, by=UserFactory())
    assert Campaign.objects.get(pk=campaign.pk).status == S.CLOSED


# --- draft edits ----------------------------------------------------------------------------


def _spec(**changes: Any) -> Any:
    return spec_validate({**SPEC, "baseline": None, **changes}, "form")


def test_a_draft_edit_updates_settings_and_rubric_by_key() -> None:
    campaign = campaign_create(spec=_spec())
    fluency_pk = campaign.criteria.get(key="fluency").pk

    campaign_draft_update(campaign=campaign, by=None, spec=_spec(
        name="Renamed", overlap=5, options={"lease_minutes": 10},
        criteria=[{"key": "relevance", "label": "Relevance", "min": 0, "max": 10},
                  {"key": "fluency", "label": "Fluent?", "min": 1, "max": 7,
                   "level": "interval", "labels": {"1": "bad"}}]))

    campaign.refresh_from_db()
    assert (campaign.name, campaign.overlap, campaign.options) == (
        "Renamed", 5, {"lease_minutes": 10})
    rows = list(campaign.criteria.values_list("key", "label", "scale_min", "scale_max",
                                              "level", "position"))
    assert rows == [("relevance", "Relevance", 0, 10, "ordinal", 0),
                    ("fluency", "Fluent?", 1, 7, "interval", 1)]
    assert campaign.criteria.get(key="fluency").pk == fluency_pk  # kept, not re-created
    assert campaign.slug == "tiny"


def test_a_criterion_with_ratings_cannot_be_removed() -> None:
    campaign = campaign_create(spec=_spec())
    RatingValueFactory(criterion=campaign.criteria.get(key="accuracy"),
                       rating__output=OutputFactory(item__campaign=campaign))
    before = row_counts()

    with pytest.raises(CampaignStateError, match="'accuracy' has ratings"):
        campaign_draft_update(campaign=campaign, by=None, spec=_spec(
            name="Other", criteria=[{"key": "fluency", "min": 1, "max": 5}]))
    assert row_counts() == before
    assert Campaign.objects.get(pk=campaign.pk).name == "Tiny"


def test_only_a_draft_can_be_edited() -> None:
    campaign = campaign_create(spec=_spec())
    Campaign.objects.filter(pk=campaign.pk).update(status=S.ACTIVE)

    with pytest.raises(CampaignStateError, match="only a draft"):
        campaign_draft_update(campaign=campaign, spec=_spec(name="x"), by=None)


# --- outputs upload -------------------------------------------------------------------------


def test_uploading_outputs_fills_a_draft_and_sets_the_baseline() -> None:
    campaign = campaign_create(spec=_spec())

    result = campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(
        jsonl_bytes(output_rows(items=3))), name="outputs.jsonl", baseline="base")

    assert (result.systems, result.items, result.outputs) == (2, 3, 6)
    campaign.refresh_from_db()
    assert campaign.baseline.name == "base" and campaign.baseline.is_baseline
    assert Output.objects.filter(item__campaign=campaign).count() == 6


def test_a_second_upload_replaces_the_first() -> None:
    campaign = campaign_create(spec=_spec())
    campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(
        jsonl_bytes(output_rows(items=4))), name="outputs.jsonl", baseline="base")

    campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(
        jsonl_bytes(output_rows(items=2, systems=("x", "y", "z")))), name="o.jsonl")

    assert sorted(System.objects.filter(campaign=campaign).values_list("name", flat=True)) == [
        "x", "y", "z"]
    assert Item.objects.filter(campaign=campaign).count() == 2
    campaign.refresh_from_db()
    assert campaign.baseline is None


@pytest.mark.parametrize(("rows", "baseline", "message"), [
    ([*output_rows(items=2), '{"item_id": "q9", "system": "base"}'], "",
     'o.jsonl:5: field "output": missing'),
    (output_rows(items=2), "nobody", "system 'nobody' has no outputs"),
    ([], "", "o.jsonl:1: file is empty"),
])
def test_a_bad_upload_keeps_the_previous_outputs(rows: list[Any], baseline: str,
                                                 message: str) -> None:
    campaign = campaign_create(spec=_spec())
    campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(
        jsonl_bytes(output_rows(items=3))), name="first.jsonl", baseline="base")
    before = row_counts()

    with pytest.raises(ImportFailed) as failure:
        campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(jsonl_bytes(rows)),
                                name="o.jsonl", baseline=baseline)

    assert message in str(failure.value)
    assert row_counts() == before
    campaign.refresh_from_db()
    assert campaign.baseline.name == "base"


def test_outputs_of_a_started_campaign_cannot_be_replaced() -> None:
    campaign = _ready(S.ACTIVE)
    before = row_counts()

    with pytest.raises(CampaignStateError, match="only a draft"):
        campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(
            jsonl_bytes(output_rows())), name="o.jsonl")
    assert row_counts() == before


def test_control_ranges_are_checked_against_the_rubric() -> None:
    campaign = campaign_create(spec=_spec())
    rows = [{**output_rows(items=1)[0], "control": {"fluency": [1, 9]}}]

    with pytest.raises(ImportFailed, match="control.fluency"):
        campaign_outputs_upload(campaign=campaign, stream=io.BytesIO(jsonl_bytes(rows)),
                                name="o.jsonl")
    assert Criterion.objects.filter(campaign=campaign).count() == 2
