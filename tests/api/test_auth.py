"""Token authentication (hashed keys, revocation, the command), session authentication and its CSRF check."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from api.models import ApiToken, token_hash
from api.services import token_create
from projects.models import Project

pytestmark = pytest.mark.django_db

PROJECTS = "/api/v1/projects/"


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_a_valid_token_authenticates_and_only_its_hash_is_stored(world):
    token, key = token_create(user=world["users"]["viewer"], name="script")
    response = bearer(key).get(PROJECTS)
    assert response.status_code == 200
    assert [p["name"] for p in response.json()["results"]] == ["Demo"]
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == token_hash(key) and key not in (stored.key_hash, stored.prefix)
    assert stored.last_used_at is not None


@pytest.mark.parametrize("header", ["Bearer htc_unknown", "Token nope", "Bearer", "Bearer a b"])
def test_unknown_or_malformed_tokens_are_refused_with_401(world, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(PROJECTS)
    assert response.status_code == 401
    assert "results" not in response.json()


def test_a_revoked_token_is_refused(world, token_client):
    user = world["users"]["owner"]
    token, key = token_create(user=user)
    client = bearer(key)
    assert client.get(PROJECTS).status_code == 200
    assert token_client(user).delete(f"/api/v1/tokens/{token.pk}/").status_code == 204
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get(PROJECTS).status_code == 401


def test_a_token_of_a_deactivated_user_is_refused(world):
    user = world["users"]["annotator"]
    _, key = token_create(user=user)
    user.is_active = False
    user.save()
    assert bearer(key).get(PROJECTS).status_code == 401


def test_anonymous_requests_get_401_with_a_bearer_challenge_and_no_data(world):
    response = APIClient().get(f"/api/v1/projects/{world['project'].pk}/documents/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "document" not in response.content.decode().replace("detail", "")


def test_creating_a_token_shows_the_key_once(world, token_client):
    client = token_client(world["users"]["viewer"])
    created = client.post("/api/v1/tokens/", {"name": "notebook"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("htc_") and created.json()["prefix"] == key[:12]
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert {t["name"] for t in listed} == {"tests", "notebook"}
    assert all("key" not in t for t in listed)
    assert bearer(key).get(PROJECTS).status_code == 200


def test_nobody_sees_or_revokes_another_users_token(world, token_client):
    token, key = token_create(user=world["users"]["owner"])
    other = token_client(world["users"]["viewer"])
    assert other.get(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert other.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert bearer(key).get(PROJECTS).status_code == 200


def test_the_management_command_prints_a_working_key(world):
    out = io.StringIO()
    call_command("htc_api_token", "annotator", "--name", "cli", stdout=out)
    key = out.getvalue().strip()
    assert ApiToken.objects.get(key_hash=token_hash(key)).name == "cli"
    assert bearer(key).get(PROJECTS).status_code == 200


def test_the_management_command_refuses_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("htc_api_token", "nobody")
    assert not ApiToken.objects.exists()


def test_session_auth_reads_without_csrf(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world["users"]["viewer"])
    assert client.get(PROJECTS).status_code == 200


def test_session_auth_needs_the_csrf_token_for_unsafe_methods(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world["users"]["owner"])
    refused = client.post(PROJECTS, {"name": "Via session"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Project.objects.filter(name="Via session").exists()

    client.get("/accounts/login/")  # sets the csrftoken cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(PROJECTS, {"name": "Via session"}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert accepted.status_code == 201
    assert Project.objects.filter(name="Via session").exists()


def test_token_auth_needs_no_csrf_token(world):
    _, key = token_create(user=world["users"]["owner"])
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.post(PROJECTS, {"name": "Via token"}, format="json").status_code == 201
