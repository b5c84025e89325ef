"""Splitting a label into children: one versioned change, no orphaned documents, a "which child?" task."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from corpora.models import GoldLabel
from projects.models import Role
from review.models import ReviewTask
from taxonomies.models import Node, TaxonomyChange
from taxonomies.services import node_create
from taxonomies.splitting import node_split
from tests.taxonomies.factories import gold_paths, label_documents, tree_shape

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(project, build_tree):
    return build_tree(project, {"Sci": {}, "Sport": {"Football": {}}})


def test_split_creates_children_as_one_version_and_keeps_every_document(project, owner, tree):
    docs = label_documents(project, tree["Sci"], 3) + label_documents(project, tree["Sport > Football"], 2)
    before_version = project.taxonomy.version
    before_gold = gold_paths(project)

    result = node_split(node=tree["Sci"], children=["Physics", " Biology ", ""], actor=owner)

    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == before_version + 1
    change = TaxonomyChange.objects.get(taxonomy=project.taxonomy, version=project.taxonomy.version)
    assert change.action == "split" and change.actor == owner
    assert change.details["names"] == ["Physics", "Biology"]
    assert change.details["documents_to_review"] == 3
    assert [c.name for c in result["children"]] == ["Physics", "Biology"]
    assert tree_shape(project) == {"Sci", "Sci > Physics", "Sci > Biology", "Sport", "Sport > Football"}
    # nothing orphaned: every document keeps exactly the label it had
    assert gold_paths(project) == before_gold
    assert GoldLabel.objects.filter(document__in=docs).count() == len(docs)
    task = result["task"]
    assert task == ReviewTask.objects.get()
    assert task.kind == "split" and task.node == tree["Sci"] and task.created_by == owner
    assert task.document_ids == sorted(d.pk for d in docs[:3])
    assert task.taxonomy_version == project.taxonomy.version


def test_split_of_an_unused_label_makes_no_task(project, owner, tree):
    result = node_split(node=tree["Sci"], children=["Physics"], actor=owner)
    assert result["task"] is None and result["documents"] == 0
    assert not ReviewTask.objects.exists()


@pytest.mark.parametrize(
    "children, message",
    [([], "at least one"), (["A", "A"], "twice"), (["Football"], "already exists"), (["x" * 256], "255")],
)
def test_split_refuses_bad_children_and_changes_nothing(project, owner, tree, children, message):
    node = tree["Sport"]
    version = project.taxonomy.version
    with pytest.raises(ValidationError, match=message):
        node_split(node=node, children=children, actor=owner)
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version
    assert list(Node.objects.filter(parent=node).values_list("name", flat=True)) == ["Football"]


def test_adding_a_sublabel_through_the_editor_opens_a_task_for_the_labels_documents(client_for, project, owner, tree):
    docs = label_documents(project, tree["Sci"], 2)
    response = client_for(owner).post(
        reverse("taxonomies:node_add", args=[project.pk]), {"name": "Physics", "parent": str(tree["Sci"].pk)}
    )
    assert response.status_code == 302
    task = ReviewTask.objects.get()
    assert task.node == tree["Sci"] and task.document_ids == sorted(d.pk for d in docs)
    # a second sub-label extends the same open task instead of making another
    node_create(taxonomy=project.taxonomy, name="Biology", parent=tree["Sci"], actor=owner)
    more = label_documents(project, tree["Sci"], 1, prefix="late")
    client_for(owner).post(
        reverse("taxonomies:node_add", args=[project.pk]), {"name": "Chemistry", "parent": str(tree["Sci"].pk)}
    )
    task = ReviewTask.objects.get()
    assert task.document_ids == sorted(d.pk for d in docs + more)


def test_only_owners_split(client_for, project, make_user, add_member, tree):
    label_documents(project, tree["Sci"], 1)
    url = reverse("taxonomies:node_split", args=[project.pk, tree["Sci"].pk])
    for role in (Role.ANNOTATOR, Role.VIEWER):
        user = make_user(f"user-{role}")
        add_member(project, user, role)
        assert client_for(user).post(url, {"children": "Physics\nBiology"}).status_code == 403
    assert not Node.objects.filter(parent=tree["Sci"]).exists()
    assert not ReviewTask.objects.exists()


def test_owner_splits_from_the_editor_and_sees_the_task_link(client_for, project, owner, tree):
    label_documents(project, tree["Sci"], 2)
    client = client_for(owner)
    editor = client.get(reverse("taxonomies:editor", args=[project.pk]), {"node": tree["Sci"].pk})
    assert b'id="split-form"' in editor.content
    response = client.post(
        reverse("taxonomies:node_split", args=[project.pk, tree["Sci"].pk]), {"children": "Physics\n<b>Bio</b>\n"}
    )
    assert response.status_code == 302
    assert set(Node.objects.filter(parent=tree["Sci"]).values_list("name", flat=True)) == {"Physics", "<b>Bio</b>"}
    page = client.get(response["Location"])
    task = ReviewTask.objects.get()
    assert reverse("review:task", args=[project.pk, task.pk]).encode() in page.content
    assert b"&lt;b&gt;Bio&lt;/b&gt;" in page.content and b"<b>Bio</b>" not in page.content


def test_viewer_sees_no_split_form(client_for, project, make_user, add_member, tree):
    viewer = make_user("vic")
    add_member(project, viewer, Role.VIEWER)
    page = client_for(viewer).get(reverse("taxonomies:editor", args=[project.pk]), {"node": tree["Sci"].pk})
    assert page.status_code == 200 and b'id="split-form"' not in page.content
