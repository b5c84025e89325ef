"""Sign-in is throttled per account and per address, with a lockout message and an admin unlock (issue 21)."""

from __future__ import annotations

import pytest
from django.test import Client

from htc_app.models import SignInFailure

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-7"


@pytest.fixture
def alice(make_user):
    user = make_user("alice")
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_wrong_passwords_lock_the_account_even_for_the_right_password(alice, settings):
    settings.HTC_SIGNIN_MAX_FAILURES = 5
    client = Client()
    for _ in range(5):
        assert b"Please enter a correct username" in _login(client, "alice", "wrong").content
    refused = _login(client, "alice", PASSWORD, address="10.9.9.9")  # another address: the account is locked
    assert refused.status_code == 200 and b"Too many failed sign-ins for this account" in refused.content
    assert "_auth_user_id" not in client.session


def test_an_administrator_unlocks_the_account(alice, admin_client, settings):
    settings.HTC_SIGNIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        _login(client, "alice", "wrong")
    assert b"Too many failed sign-ins" in _login(client, "alice", PASSWORD).content
    rows = SignInFailure.objects.filter(scope="account", key="alice")
    response = admin_client.post(
        "/admin/htc_app/signinfailure/",
        {"action": "unlock", "_selected_action": [rows.first().pk]},
        follow=True,
    )
    assert response.status_code == 200 and not rows.exists()
    assert _login(client, "alice", PASSWORD, address="10.0.0.2").status_code == 302


def test_many_accounts_tried_from_one_address_lock_the_address(alice, settings):
    settings.HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS = 4
    client = Client()
    for name in ("bob", "carol", "dave", "erin"):
        _login(client, name, "guess", address="10.6.6.6")
    assert b"Too many failed sign-ins for your address" in _login(client, "alice", PASSWORD, "10.6.6.6").content
    assert _login(client, "alice", PASSWORD, address="10.0.0.3").status_code == 302  # elsewhere: fine


def test_guessing_api_tokens_from_one_address_is_throttled_with_the_json_shape(alice, settings):
    from rest_framework.test import APIClient

    from api.services import token_create

    settings.HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS = 3
    _, key = token_create(user=alice, name="real")
    client = APIClient()
    for i in range(3):
        bad = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer htc_guess{i}", REMOTE_ADDR="10.7.7.7")
        assert bad.status_code == 401
    locked = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.7.7.7")
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.json()["detail"]
    fine = client.get("/api/v1/projects/", HTTP_AUTHORIZATION=f"Bearer {key}", REMOTE_ADDR="10.0.0.4")
    assert fine.status_code == 200


def test_creating_tokens_in_bulk_is_refused(alice):
    from rest_framework.test import APIClient

    from api.services import MAX_TOKENS_PER_HOUR

    client = APIClient()
    client.force_login(alice)
    for i in range(MAX_TOKENS_PER_HOUR):
        assert client.post("/api/v1/tokens/", {"name": f"t{i}"}, format="json").status_code == 201
    refused = client.post("/api/v1/tokens/", {"name": "one more"}, format="json")
    assert refused.status_code == 429 and "per hour" in refused.json()["detail"]
