"""The OpenAPI schema at /api/schema/ and the Swagger UI at /api/docs/ (no CDN)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

EXPECTED_PATHS = {
    "/api/campaigns/": {"get", "post"},
    "/api/campaigns/import/": {"post"},
    "/api/campaigns/{slug}/": {"get", "patch", "delete"},
    "/api/campaigns/{slug}/ratings/import/": {"post"},
    "/api/campaigns/{slug}/report/": {"get"},
    "/api/campaigns/{slug}/export/": {"get"},
}
EXTERNAL_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
CDN_REFERENCE = re.compile(r"(?<![A-Za-z0-9])cdn(?:js)?[./-]", re.IGNORECASE)
ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


@pytest.fixture
def schema(staff_client: APIClient) -> dict[str, Any]:
    response = staff_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_an_openapi_3_document(schema: dict[str, Any]) -> None:
    # given the schema served at /api/schema/
    # when it is read, then it is OpenAPI 3 with our title
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "evalproject API"


def test_schema_lists_the_campaign_import_report_and_export_operations(
    schema: dict[str, Any]
) -> None:
    # given the schema
    paths = schema["paths"]

    # when its paths are read, then every public operation is documented
    for path, methods in EXPECTED_PATHS.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_schema_documents_the_export_format_parameter(schema: dict[str, Any]) -> None:
    # given the export operation
    operation = schema["paths"]["/api/campaigns/{slug}/export/"]["get"]

    # when its parameters are read, then `format` offers json, csv and xlsx
    fmt = next(p for p in operation["parameters"] if p["name"] == "format")
    assert set(fmt["schema"]["enum"]) == {"json", "csv", "xlsx"}


def test_schema_is_served_as_yaml_by_default(staff_client: APIClient) -> None:
    # given no Accept preference
    # when the schema is fetched
    response = staff_client.get("/api/schema/")

    # then it is the YAML rendering of the same document
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


def test_docs_page_loads_no_script_or_style_from_the_internet(
    staff_client: APIClient
) -> None:
    # given the Swagger UI page
    response = staff_client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()

    # when its script and stylesheet references are read
    assets = ASSET_URL.findall(html)

    # then none points off-site, and the Swagger UI files come from the sidecar static files
    assert not EXTERNAL_ASSET.search(html), EXTERNAL_ASSET.findall(html)
    # "cdn" as a host or path part, not inside a random token (the page embeds a CSRF token)
    assert not CDN_REFERENCE.search(html), CDN_REFERENCE.findall(html)
    sidecar = [a for a in assets if "drf_spectacular_sidecar" in a]
    assert any(a.endswith("swagger-ui-bundle.js") for a in sidecar), assets
    assert any(a.endswith("swagger-ui.css") for a in sidecar), assets
    for asset in sidecar:
        relative = asset.split("/static/", 1)[1]
        assert finders.find(relative), f"{relative} is not a local static file"


def test_docs_page_init_script_fetches_only_the_local_schema(staff_client: APIClient) -> None:
    # given the docs page
    html = staff_client.get("/api/docs/").content.decode()

    # when the initialising script (inline or served by the view) is read
    script_urls = [a for a in ASSET_URL.findall(html) if "drf_spectacular_sidecar" not in a
                   and a.lstrip("/").startswith("api/docs")]
    script = "".join(staff_client.get(u).content.decode() for u in script_urls) or html

    # then it points Swagger UI at our own schema and nothing external
    assert "/api/schema/" in script
    assert not re.search(r"https?://", script)
