"""Taxonomy through the API: label edits via the services, import errors by line, export, XSS-ish names as data."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from corpora.models import GoldLabel
from taxonomies.models import Node, TaxonomyChange

pytestmark = pytest.mark.django_db

XSS = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'


@pytest.fixture
def api(world, token_client):
    client = token_client(world["users"]["owner"])
    base = f"/api/v1/projects/{world['project'].pk}/taxonomy/"
    return client, base


def test_create_a_label_under_a_parent_returns_its_path(world, api):
    client, base = api
    sci = world["nodes"]["Sci"]
    response = client.post(base + "nodes/", {"name": "Chem", "parent": sci.pk, "description": "atoms"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["path"] == ["Sci", "Chem"] and body["path_ids"] == [sci.pk, body["id"]] and body["depth"] == 2
    assert Node.objects.get(pk=body["id"]).description == "atoms"
    assert client.get(base).json()["node_count"] == 8


def test_a_duplicate_sibling_name_is_a_400_on_the_name_field(world, api):
    client, base = api
    response = client.post(base + "nodes/", {"name": "Phys", "parent": world["nodes"]["Sci"].pk}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "name", "message": "A label named 'Phys' already exists under 'Sci'."}
    ]


def test_a_parent_from_another_project_is_refused(world, api):
    client, base = api
    before = Node.objects.count()
    response = client.post(base + "nodes/", {"name": "X", "parent": world["other_node"].pk}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "parent"
    assert Node.objects.count() == before


def test_labels_of_another_project_are_404(world, api):
    client, base = api
    assert client.get(base + f"nodes/{world['other_node'].pk}/").status_code == 404
    assert client.patch(base + f"nodes/{world['other_node'].pk}/", {"name": "pwned"}, format="json").status_code == 404
    world["other_node"].refresh_from_db()
    assert world["other_node"].name == "Elsewhere"


def test_rename_and_describe_record_history(world, api):
    client, base = api
    node = world["nodes"]["Sci > Bio"]
    response = client.patch(base + f"nodes/{node.pk}/", {"name": "Biology", "terms": ["cell", "gene"]}, format="json")
    assert response.status_code == 200
    assert response.json()["path"] == ["Sci", "Biology"] and response.json()["terms"] == ["cell", "gene"]
    actions = [c["action"] for c in client.get(base + "changes/").json()["results"][:2]]
    assert actions == ["edit", "rename"]


def test_move_keeps_documents_and_updates_paths(world, api):
    client, base = api
    phys = world["nodes"]["Sci > Phys"]
    response = client.post(base + f"nodes/{phys.pk}/move/", {"parent": None}, format="json")
    assert response.status_code == 200 and response.json()["path"] == ["Phys"]
    doc = client.get(f"/api/v1/projects/{world['project'].pk}/documents/{world['docs'][0].pk}/").json()
    assert doc["gold_paths"] == [["Phys", "Astro"]]


def test_moving_under_its_own_descendant_is_refused(world, api):
    client, base = api
    sci, astro = world["nodes"]["Sci"], world["nodes"]["Sci > Phys > Astro"]
    response = client.post(base + f"nodes/{sci.pk}/move/", {"parent": astro.pk}, format="json")
    assert response.status_code == 400
    sci.refresh_from_db()
    assert sci.parent_id is None


def test_merge_moves_the_documents_to_the_target(world, api):
    client, base = api
    quantum, astro = world["nodes"]["Sci > Phys > Quantum"], world["nodes"]["Sci > Phys > Astro"]
    response = client.post(base + f"nodes/{quantum.pk}/merge/", {"target": astro.pk}, format="json")
    assert response.status_code == 200 and response.json()["id"] == astro.pk
    assert not Node.objects.filter(pk=quantum.pk).exists()
    assert GoldLabel.objects.get(document=world["docs"][3]).node_id == astro.pk


def test_delete_a_used_label_needs_a_reassignment(world, api):
    client, base = api
    bio, sport = world["nodes"]["Sci > Bio"], world["nodes"]["Sport > Team"]
    refused = client.delete(base + f"nodes/{bio.pk}/")
    assert refused.status_code == 400 and Node.objects.filter(pk=bio.pk).exists()
    done = client.delete(base + f"nodes/{bio.pk}/?reassign_to={sport.pk}")
    assert done.status_code == 200 and done.json() == {"deleted": 1, "documents_moved": 2}
    assert GoldLabel.objects.filter(node=sport).count() == 4


def test_import_errors_list_file_and_line_and_write_nothing(world, api):
    client, base = api
    changes = TaxonomyChange.objects.count()
    upload = SimpleUploadedFile("tax.txt", b"Arts\n  Music\n\tBad\x01name\nArts\n")
    response = client.post(base + "import/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    messages = [e["message"] for e in response.json()["errors"]]
    assert messages and all(m.startswith("tax.txt, line ") for m in messages)
    assert not Node.objects.filter(name="Arts").exists() and TaxonomyChange.objects.count() == changes


def test_import_merges_and_reports_a_summary(world, api):
    client, base = api
    upload = SimpleUploadedFile("tax.csv", b"path\nSci > Chem\nSci > Phys\nArts\n")
    response = client.post(base + "import/", {"file": upload, "mode": "merge"}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert (body["format"], body["created"], body["reused"]) == ("csv", 2, 2)
    assert Node.objects.filter(taxonomy__project=world["project"], name="Chem", parent=world["nodes"]["Sci"]).exists()


@pytest.mark.parametrize(
    ("fmt", "content_type"), [("json", "application/json"), ("csv", "text/csv"), ("txt", "text/plain")]
)
def test_export_formats_are_attachments(world, api, fmt, content_type):
    client, base = api
    response = client.get(base + "export/", {"format": fmt})
    assert response.status_code == 200 and response["Content-Type"].startswith(content_type)
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"Quantum" in response.content


def test_an_unknown_export_format_is_400(world, api):
    client, base = api
    response = client.get(base + "export/", {"format": "xlsx"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "format"


def test_html_in_label_names_round_trips_as_json_data(world, api):
    client, base = api
    created = client.post(base + "nodes/", {"name": XSS}, format="json")
    assert created.status_code == 201 and created["Content-Type"] == "application/json"
    assert created.json()["name"] == XSS
    listed = client.get(base + "nodes/", {"q": "onerror"})
    assert listed["Content-Type"] == "application/json"
    assert [n["name"] for n in listed.json()["results"]] == [XSS]
    # The raw body is JSON text (escaped quotes), never an HTML document.
    assert json.loads(listed.content)["results"][0]["path"] == [XSS]
    assert not listed.content.lstrip().startswith(b"<")
