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


# Every other way an /api/ request can fail: whatever raised it (DRF, Django's middleware, a plain view), the
# body is the one JSON shape.
def _cases(world, token_client) -> dict:
    owner = world["users"]["owner"]
    base = f"/api/v1/projects/{world['project'].pk}/"
    session = Client(enforce_csrf_checks=True, raise_request_exception=False)
    session.force_login(owner)
    tokens = token_client(owner)
    return {
        "401 no credentials": (401, lambda: Client().get("/api/v1/projects/")),
        "401 a wrong token": (401, lambda: Client(HTTP_AUTHORIZATION="Bearer nope").get("/api/v1/projects/")),
        "403 a viewer writes": (
            403,
            lambda: token_client(world["users"]["viewer"]).post(base + "taxonomy/nodes/", {"name": "x"}),
        ),
        "403 a session POST without a CSRF token": (403, lambda: session.post("/api/v1/tokens/", {"name": "x"})),
        "403 CSRF on a plain view": (403, lambda: session.post("/api/docs/", {"x": "1"})),
        "404 another project": (404, lambda: tokens.get("/api/v1/projects/999999/")),
        "405 a method the route lacks": (405, lambda: tokens.delete("/api/v1/projects/")),
        "405 a plain view": (405, lambda: tokens.delete("/api/docs/")),
        "406 an unknown Accept": (406, lambda: tokens.get("/api/v1/projects/", HTTP_ACCEPT="application/x-nope")),
        "415 an unknown body type": (
            415,
            lambda: tokens.post(base + "taxonomy/nodes/", b"x", content_type="application/x-nope"),
        ),
        "400 malformed JSON": (
            400,
            lambda: tokens.post(base + "taxonomy/nodes/", b"{", content_type="application/json"),
        ),
    }


CASES = [
    "401 no credentials",
    "401 a wrong token",
    "403 a viewer writes",
    "403 a session POST without a CSRF token",
    "403 CSRF on a plain view",
    "404 another project",
    "405 a method the route lacks",
    "405 a plain view",
    "406 an unknown Accept",
    "415 an unknown body type",
    "400 malformed JSON",
]


@pytest.mark.parametrize("case", CASES)
def test_every_api_error_status_has_the_json_error_shape(case, world, token_client):
    status, call = _cases(world, token_client)[case]
    response = call()
    assert response.status_code == status, (case, response.status_code, response.content[:200])
    _shape(response)


def test_a_label_name_with_a_nul_is_refused_for_that_reason_not_its_length(world, token_client):
    client = token_client(world["users"]["owner"])
    response = client.post(f"/api/v1/projects/{world['project'].pk}/taxonomy/nodes/", {"name": "bad\x00name"})
    assert response.status_code == 400
    body = _shape(response)
    assert "Null characters are not allowed" in body["detail"] and "255" not in body["detail"]
