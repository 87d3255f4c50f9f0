"""POST /api/campaigns/import/: staff upload a spec + outputs bundle; all or nothing."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotations.models import (
    Campaign,
    CampaignMembership,
    Item,
    Output,
)
from tests.annotations.factories import CampaignFactory, MembershipFactory, UserFactory
from tests.conftest import SPEC, jsonl_bytes, output_rows
from tests.dbstate import row_counts

pytestmark = pytest.mark.django_db

URL = "/api/campaigns/import/"
BROKEN_LINE = '{"item_id": "q2", "system": "ft"'


def _json_error_column(text: str) -> int:
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return exc.colno
    raise AssertionError("expected invalid JSON")


# json itself says where on the line the error is (the column just past the last character).
BROKEN_COLUMN = _json_error_column(BROKEN_LINE)




def _files(spec: dict[str, Any] | None = None, rows: list[Any] | None = None,
           outputs_name: str = "outputs.jsonl", outputs: bytes | None = None) -> dict[str, Any]:
    return {
        "spec": SimpleUploadedFile("spec.json", json.dumps(spec or SPEC).encode()),
        "outputs": SimpleUploadedFile(
            outputs_name, outputs if outputs is not None else jsonl_bytes(rows or output_rows())),
    }




def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_staff_imports_a_bundle_and_becomes_its_admin(staff_client: APIClient,
                                                      staff_user: Any) -> None:
    # given a spec and 4 items answered by 2 systems
    files = _files()

    # when staff uploads them
    response = staff_client.post(URL, files, format="multipart")

    # then the campaign exists with its systems, items and outputs, baseline set
    assert response.status_code == 201
    assert response.json() == {"campaign": "tiny", "systems": 2, "items": 4, "outputs": 8}
    campaign = Campaign.objects.get(slug="tiny")
    assert campaign.baseline is not None and campaign.baseline.name == "base"
    assert campaign.baseline.is_baseline
    assert sorted(campaign.systems.values_list("name", flat=True)) == ["base", "ft"]
    assert list(campaign.criteria.values_list("key", flat=True)) == ["fluency", "accuracy"]
    item = campaign.items.get(external_id="q2")
    assert (item.input, item.references) == ("question 2?", ["answer 2"])
    assert Output.objects.get(item=item, system__name="ft").text == "ft says 2"
    assert campaign.memberships.get(user=staff_user).role == CampaignMembership.Role.ADMIN


def test_staff_imports_outputs_given_as_csv(staff_client: APIClient) -> None:
    # given outputs as a CSV file
    csv_text = ("item_id,input,references,system,output\n"
                'q1,question 1?,"[""answer 1""]",base,base says 1\n'
                'q1,question 1?,"[""answer 1""]",ft,ft says 1\n')

    # when staff uploads the bundle
    response = staff_client.post(
        URL, _files(outputs_name="outputs.csv", outputs=csv_text.encode()), format="multipart")

    # then the CSV rows are imported like JSONL ones
    assert response.status_code == 201
    assert response.json() == {"campaign": "tiny", "systems": 2, "items": 1, "outputs": 2}
    assert Item.objects.get(external_id="q1").references == ["answer 1"]


def test_import_refuses_anonymous_requests() -> None:
    # given no credentials
    before = row_counts()

    # when a bundle is uploaded anonymously
    response = APIClient().post(URL, _files(), format="multipart")

    # then it is refused and nothing is created
    assert response.status_code in (401, 403)
    assert row_counts() == before


@pytest.mark.parametrize("role", [None, CampaignMembership.Role.ADMIN])
def test_import_is_forbidden_for_users_who_are_not_staff(role: str | None) -> None:
    # given a non-staff user, perhaps admin of another campaign
    user = UserFactory()
    if role:
        MembershipFactory(user=user, role=role)
    before = row_counts()

    # when they upload a bundle
    response = _client(user).post(URL, _files(), format="multipart")

    # then it is forbidden and nothing is created
    assert response.status_code == 403
    assert row_counts() == before


@pytest.mark.parametrize("rows,expected", [
    pytest.param(
        [*output_rows(items=1), {"item_id": "q2", "input": "question 2?", "output": "x"}],
        ['outputs.jsonl:3: field "system": missing'],
        id="system-missing",
    ),
    pytest.param(
        [*output_rows(items=1), BROKEN_LINE],
        [f"outputs.jsonl:3: invalid JSON: Expecting ',' delimiter at column {BROKEN_COLUMN}"],
        id="broken-json",
    ),
    pytest.param(
        [*output_rows(items=1), {"item_id": "q1", "input": "other?", "system": "x",
                                 "output": "y", "references": ["answer 1"]}],
        ['outputs.jsonl:3: field "input": item \'q1\' differs from its row on line 1'],
        id="item-rows-disagree",
    ),
    pytest.param(
        [*output_rows(items=1), {"item_id": "q9", "system": "ft", "output": "y", "latency": 3}],
        ['outputs.jsonl:3: field "latency": unknown field (put extra data under "metadata")'],
        id="unknown-field",
    ),
    pytest.param(
        [*output_rows(items=1), *output_rows(items=1, systems=("ft",))],
        ['outputs.jsonl:3: field "system": duplicate output for item \'q1\' and system \'ft\''],
        id="duplicate-output",
    ),
    pytest.param(
        output_rows(items=2, systems=("ft",)),
        ['spec.json:1: field "baseline": system \'base\' has no outputs'],
        id="baseline-without-outputs",
    ),
])
def test_bad_outputs_return_400_with_one_line_errors_and_create_nothing(
    staff_client: APIClient, rows: list[Any], expected: list[str]
) -> None:
    # given a bundle with a broken outputs file
    before = row_counts()

    # when staff uploads it
    response = staff_client.post(URL, _files(rows=rows), format="multipart")

    # then each problem is one line "file:line: field ...: message" and nothing is written
    assert response.status_code == 400
    assert response.json() == {"errors": expected}
    assert row_counts() == before


def test_bad_spec_returns_400_naming_the_line_and_creates_nothing(
    staff_client: APIClient
) -> None:
    # given a spec whose second criterion has an unknown level, written over several lines
    spec = copy.deepcopy(SPEC)
    spec["criteria"][1]["level"] = "cardinal"
    spec_file = SimpleUploadedFile("spec.json", json.dumps(spec, indent=2).encode())
    text = json.dumps(spec, indent=2).splitlines()
    line = next(i for i, t in enumerate(text, start=1) if '"cardinal"' in t)
    before = row_counts()

    # when staff uploads it
    response = staff_client.post(
        URL, {"spec": spec_file, "outputs": SimpleUploadedFile("outputs.jsonl",
                                                               jsonl_bytes(output_rows()))},
        format="multipart")

    # then the error points at the spec's line and field, and nothing is written
    assert response.status_code == 400
    assert response.json() == {"errors": [
        f'spec.json:{line}: field "criteria[1].level": must be one of nominal, ordinal, '
        f'interval, ratio, got "cardinal"'
    ]}
    assert row_counts() == before


def test_import_with_a_taken_slug_returns_400_and_leaves_the_existing_campaign(
    staff_client: APIClient
) -> None:
    # given a campaign already using the spec's slug
    CampaignFactory(slug="tiny", name="Existing")
    before = row_counts()

    # when staff uploads the bundle
    response = staff_client.post(URL, _files(), format="multipart")

    # then it is refused and nothing changes
    assert response.status_code == 400
    assert response.json() == {"errors": ['spec.json:1: field "slug": campaign \'tiny\' already '
                                          'exists']}
    assert row_counts() == before
    assert Campaign.objects.get(slug="tiny").name == "Existing"


@pytest.mark.parametrize("missing", ["spec", "outputs"])
def test_import_without_both_files_returns_400_naming_the_missing_one(
    staff_client: APIClient, missing: str
) -> None:
    # given only one of the two files
    files = _files()
    del files[missing]
    before = row_counts()

    # when staff uploads it
    response = staff_client.post(URL, files, format="multipart")

    # then the missing field is reported and nothing is written
    assert response.status_code == 400
    assert missing in response.json()
    assert row_counts() == before


def test_import_of_an_outputs_file_with_an_unknown_extension_returns_400(
    staff_client: APIClient
) -> None:
    # given outputs named .txt and no explicit format
    before = row_counts()

    # when staff uploads the bundle
    response = staff_client.post(URL, _files(outputs_name="outputs.txt"), format="multipart")

    # then the format problem is reported and nothing is written
    assert response.status_code == 400
    assert response.json() == {"errors": ["outputs.txt:1: unknown format: use a .jsonl or .csv "
                                          "file"]}
    assert row_counts() == before
