"""Projects and members through the API."""

from __future__ import annotations

import pytest

from projects.models import Membership, Role

pytestmark = pytest.mark.django_db


def test_project_list_shows_only_my_projects_with_my_role(world, token_client):
    body = token_client(world["users"]["annotator"]).get("/api/v1/projects/").json()
    assert [(p["name"], p["role"]) for p in body["results"]] == [("Demo", "annotator")]


def test_create_a_project_makes_me_its_owner(world, token_client):
    client = token_client(world["users"]["viewer"])
    response = client.post("/api/v1/projects/", {"name": "Mine", "multi_path": True}, format="json")
    assert response.status_code == 201 and response.json()["role"] == "owner" and response.json()["multi_path"]
    assert Membership.objects.get(project_id=response.json()["id"], user=world["users"]["viewer"]).role == Role.OWNER
    duplicate = client.post("/api/v1/projects/", {"name": "Mine"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"][0]["field"] == "name"


def test_owner_sets_roles_and_removes_members(world, token_client):
    client = token_client(world["users"]["owner"])
    base = f"/api/v1/projects/{world['project'].pk}/members/"
    response = client.post(base, {"username": "stranger", "role": "viewer"}, format="json")
    assert response.status_code == 200 and response.json()["username"] == "stranger"
    assert client.get(base, {"ordering": "-username"}).json()["results"][0]["username"] == "viewer"
    assert client.delete(base + f"{response.json()['id']}/").status_code == 204
    assert not Membership.objects.filter(project=world["project"], user=world["users"]["stranger"]).exists()


def test_the_last_owner_cannot_be_removed(world, token_client):
    client = token_client(world["users"]["owner"])
    mine = Membership.objects.get(project=world["project"], user=world["users"]["owner"])
    response = client.delete(f"/api/v1/projects/{world['project'].pk}/members/{mine.pk}/")
    assert response.status_code == 400 and "at least one owner" in response.json()["detail"]
    assert Membership.objects.filter(pk=mine.pk).exists()


def test_an_unknown_user_is_a_400_on_username(world, token_client):
    client = token_client(world["users"]["owner"])
    response = client.post(
        f"/api/v1/projects/{world['project'].pk}/members/", {"username": "ghost", "role": "viewer"}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "username"


def test_schema_validates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_docs_page_lists_operations_and_passes_the_csp(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/projects/{project_id}/taxonomy/nodes/" in html and "Bearer" in html
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert "script-src 'self'" in response["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("path", "hint"), [("/api/v1/nothing/", False), ("/api/v1/projects", True), ("/api/v1/projects/abc/", False)]
)
def test_unknown_api_paths_are_json_404s(world, token_client, path, hint):
    response = token_client(world["users"]["owner"]).post(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert ("end with a slash" in response.json()["detail"]) is hint
