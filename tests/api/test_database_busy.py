"""A locked SQLite database: the API answers 503 as JSON in its error shape, the pages keep the HTML busy page."""

from __future__ import annotations

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


@pytest.fixture
def locked(monkeypatch):
    """Every project lookup fails the way SQLite does after its busy timeout."""

    def busy(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr("api.views.base.project_for_user", busy)
    monkeypatch.setattr("projects.views.project_for_user", busy)


def test_api_gets_json_503_with_retry_after(world, token_client, locked):
    client = token_client(world["users"]["owner"])
    response = client.get(f"/api/v1/projects/{world['project'].pk}/runs/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert set(body) == {"detail", "errors"}
    assert "busy" in body["detail"]
    assert body["errors"] == [{"field": None, "message": body["detail"]}]


def test_pages_keep_the_html_busy_page(world, client, locked):
    from django.urls import reverse

    client.force_login(world["users"]["owner"])
    response = client.get(reverse("projects:detail", args=[world["project"].pk]))
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert response["Retry-After"]
    assert "busy" in response.content.decode().lower()
