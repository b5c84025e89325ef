"""Editor, import/export and history pages: permissions, forms that work without JS, escaping."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from projects.models import Role
from taxonomies.models import Node
from tests.taxonomies.factories import gold_paths, label_documents, tree_shape


@pytest.fixture
def tree(project, build_tree):
    return build_tree(project, {"CS": {"ML": {}, "CV": {}}, "Med": {}})


def _url(name, project, *args):
    return reverse(f"taxonomies:{name}", args=[project.pk, *args])


def _post_routes(project, tree):
    node = tree["CS > ML"].pk
    return [
        (_url("node_add", project), {"name": "New"}),
        (_url("node_rename", project, node), {"name": "Renamed"}),
        (_url("node_move", project, node), {"target": ""}),
        (_url("node_merge", project, node), {"target": str(tree["CS > CV"].pk)}),
        (_url("node_delete", project, node), {"target": ""}),
        (_url("node_describe", project, node), {"description": "x", "terms": ""}),
        (_url("import", project), {"mode": "merge"}),
    ]


def test_anonymous_is_sent_to_login(client, project, tree):
    for url in [_url("editor", project), _url("history", project), _url("export", project, "json")]:
        response = client.get(url)
        assert response.status_code == 302 and reverse("login") in response["Location"]
    url, data = _post_routes(project, tree)[0]
    assert client.post(url, data).status_code == 302
    assert not Node.objects.filter(name="New").exists()


def test_non_member_gets_404(client_for, make_user, project, tree):
    client = client_for(make_user("stranger"))
    assert client.get(_url("editor", project)).status_code == 404
    assert client.get(_url("export", project, "csv")).status_code == 404
    for url, data in _post_routes(project, tree):
        assert client.post(url, data).status_code == 404, url


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_viewer_and_annotator_read_the_tree_but_cannot_change_it(
    client_for, make_user, add_member, project, tree, role
):
    user = make_user(f"u-{role}")
    add_member(project, user, role)
    client = client_for(user)
    page = client.get(_url("editor", project), {"node": tree["CS > ML"].pk})
    assert page.status_code == 200
    assert b"ML" in page.content and b"Rename" not in page.content
    assert client.get(_url("history", project)).status_code == 200
    assert client.get(_url("import", project)).status_code == 403
    for url, data in _post_routes(project, tree):
        assert client.post(url, data).status_code == 403, url
    assert tree_shape(project) == {"CS", "CS > ML", "CS > CV", "Med"}


def test_owner_changes_the_tree_with_plain_forms(client_for, owner, project, tree):
    client = client_for(owner)
    response = client.post(_url("node_add", project), {"name": "Deep", "parent": str(tree["CS > ML"].pk)})
    deep = Node.objects.get(name="Deep")
    assert response.status_code == 302 and response["Location"].endswith(f"?node={deep.pk}")
    client.post(_url("node_rename", project, tree["Med"].pk), {"name": "Medicine"})
    client.post(_url("node_move", project, tree["CS > ML"].pk), {"target": "Medicine"})  # a path works too
    client.post(_url("node_describe", project, tree["CS"].pk), {"description": "Computing", "terms": "code, bits"})
    assert tree_shape(project) == {"CS", "CS > CV", "Medicine", "Medicine > ML", "Medicine > ML > Deep"}
    assert Node.objects.get(pk=tree["CS"].pk).terms == ["code", "bits"]
    response = client.post(_url("node_merge", project, tree["CS > CV"].pk), {"target": str(tree["CS"].pk)})
    assert response.status_code == 302
    assert tree_shape(project) == {"CS", "Medicine", "Medicine > ML", "Medicine > ML > Deep"}
    history = client.get(_url("history", project))
    assert [c.action for c in history.context["page"].object_list][:3] == ["merge", "edit", "move"]


def test_refused_delete_shows_the_counts_and_reassign_works(client_for, owner, project, tree):
    label_documents(project, tree["CS > ML"], 3, prefix="d")
    client = client_for(owner)
    page = client.get(_url("editor", project), {"node": tree["CS > ML"].pk})
    assert b"3 documents use this label or its descendants" in page.content
    response = client.post(_url("node_delete", project, tree["CS > ML"].pk), {"target": ""}, follow=True)
    assert "3 documents use this label or its descendants; choose where to move them." in response.content.decode()
    assert Node.objects.filter(pk=tree["CS > ML"].pk).exists()
    client.post(_url("node_delete", project, tree["CS > ML"].pk), {"target": str(tree["CS > CV"].pk)})
    assert gold_paths(project) == {f"d-{i}": ["CS > CV"] for i in range(3)}


def test_move_into_a_descendant_shows_an_error(client_for, owner, project, tree):
    response = client_for(owner).post(
        _url("node_move", project, tree["CS"].pk), {"target": str(tree["CS > ML"].pk)}, follow=True
    )
    assert "cannot move under itself or one of its descendants" in response.content.decode()


def test_state_changes_need_post(client_for, owner, project, tree):
    assert client_for(owner).get(_url("node_rename", project, tree["CS"].pk)).status_code == 405


def test_label_from_another_project_is_404(client_for, owner, project, tree, make_project, build_tree):
    other = build_tree(make_project("Other"), {"X": {}})["X"]
    response = client_for(owner).post(_url("node_rename", project, other.pk), {"name": "hacked"})
    assert response.status_code == 404
    assert Node.objects.get(pk=other.pk).name == "X"


def test_label_names_are_escaped_in_the_editor(client_for, owner, project, build_tree):
    evil = "<img src=x onerror=alert(1)>"
    node = build_tree(project, {evil: {"</script><script>alert(2)</script>": {}}})[evil]
    page = client_for(owner).get(_url("editor", project), {"node": node.pk})
    html = page.content.decode()
    assert evil not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    data = page.context["picker_data"]
    assert [row[1] for row in data] == [evil, f"{evil} > </script><script>alert(2)</script>"]
    assert "style=" not in html and "<script>" not in html.replace('<script type="module"', "")


def test_import_page_reports_problems_with_line_numbers(client_for, owner, project):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = client_for(owner)
    bad = SimpleUploadedFile("tax.csv", b"level1,level2\nA,B\n,C\n")
    page = client.post(_url("import", project), {"file": bad, "mode": "merge"})
    assert page.status_code == 200
    assert "tax.csv, line 3: empty label name in column level1" in page.content.decode()
    assert not Node.objects.exists()
    good = SimpleUploadedFile("tax.json", json.dumps([{"name": "A", "children": [{"name": "B"}]}]).encode())
    response = client.post(_url("import", project), {"file": good, "mode": "merge"})
    assert response.status_code == 302
    assert tree_shape(project) == {"A", "A > B"}


@pytest.mark.parametrize(
    ("fmt", "type_start"), [("json", "application/json"), ("csv", "text/csv"), ("txt", "text/plain")]
)
def test_export_is_an_attachment(client_for, make_user, add_member, project, tree, fmt, type_start):
    viewer = make_user("viewer")
    add_member(project, viewer, Role.VIEWER)
    response = client_for(viewer).get(_url("export", project, fmt))
    assert response.status_code == 200 and response["Content-Type"].startswith(type_start)
    assert response["Content-Disposition"] == f'attachment; filename="Demo-taxonomy-v4.{fmt}"'
    assert "ML" in response.content.decode()


def test_unknown_export_format_is_404(client_for, owner, project):
    assert client_for(owner).get(_url("export", project, "xml")).status_code == 404


def test_large_tree_uses_path_fields_instead_of_selects(client_for, owner, project, monkeypatch, tree):
    from taxonomies import views

    monkeypatch.setattr(views, "SELECT_LIMIT", 2)
    page = client_for(owner).get(_url("editor", project), {"node": tree["CS"].pk})
    html = page.content.decode()
    assert "data-node-picker" in html and '<select name="target"' not in html
    client_for(owner).post(_url("node_move", project, tree["CS > ML"].pk), {"target": "Med"})
    assert "Med > ML" in tree_shape(project)
