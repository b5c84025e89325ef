"""The API reference publishes no implementation comments, and the schema reads in a browser."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

LEAKS = ("Resolves `self.project`", "roles[method]", "The method's role from `roles`")


def test_the_schema_carries_no_docstring_of_a_view_as_a_description():
    from drf_spectacular.generators import SchemaGenerator

    schema = json.dumps(SchemaGenerator().get_schema(request=None, public=True))
    for leak in LEAKS:
        assert leak not in schema, leak


def test_the_reference_page_shows_no_implementation_comments(client):
    html = client.get("/api/docs/").content.decode()
    assert "Runs" in html or "runs" in html
    for leak in LEAKS:
        assert leak not in html, leak


def test_a_browser_sees_the_schema_as_text_and_can_download_it(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    response = client.get("/api/schema/", HTTP_ACCEPT=browser)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert not response.get("Content-Disposition", "").startswith("attachment")
    assert response.content.decode().startswith("openapi: 3")
    download = client.get("/api/schema/?download=1", HTTP_ACCEPT=browser)
    assert download["Content-Disposition"] == 'attachment; filename="htc-openapi.yaml"'
    as_json = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert as_json["Content-Type"].startswith("application/json") and as_json.json()["openapi"].startswith("3")
    json_download = client.get("/api/schema/?format=json&download=1")
    assert json_download["Content-Disposition"] == 'attachment; filename="htc-openapi.json"'
