"""Every API error status answers in the API's JSON error shape, including those Django raises before a view
(issue 21, item 9): too many fields (400), an unknown URL (404) and an uncaught server error (500)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def _shape(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["detail"] and body["errors"][0]["message"]
    return body


def test_too_many_fields_is_a_json_400(world, token_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client = token_client(world["users"]["owner"])
    body = urlencode({f"f{i}": "x" for i in range(50)})
    response = client.post("/api/v1/tokens/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in _shape(response)["detail"]


def test_an_unknown_api_url_is_a_json_404(world, token_client):
    response = token_client(world["users"]["owner"]).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    _shape(response)


def test_an_uncaught_api_error_is_a_json_500(world, token_client, monkeypatch):
    from api.views import tokens

    def boom(*args, **kwargs):
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(tokens.TokenListView, "get", boom)
    client = Client(raise_request_exception=False)
    client.force_login(world["users"]["owner"])
    response = client.get("/api/v1/tokens/")
    assert response.status_code == 500
    assert "internal detail" not in _shape(response)["detail"]
