"""The "which child?" review task after a split: decisions move gold labels and are recorded as corrections."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from corpora.models import GoldLabel
from projects.models import Role
from review.models import Correction
from review.tasks import split_task_decide, split_task_next, split_task_remaining
from taxonomies.splitting import node_split
from tests.taxonomies.factories import label_documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def split(project, owner, build_tree):
    nodes = build_tree(project, {"Sci": {}, "Sport": {"Football": {}}})
    docs = label_documents(project, nodes["Sci"], 3)
    other = label_documents(project, nodes["Sport > Football"], 1)
    result = node_split(node=nodes["Sci"], children=["Physics", "Biology"], actor=owner)
    physics, biology = result["children"]
    return {
        "nodes": nodes,
        "docs": docs,
        "other": other,
        "task": result["task"],
        "physics": physics,
        "biology": biology,
    }


def _path(node):
    return [int(i) for i in node.path_key.strip("/").split("/")]


def test_deciding_moves_the_gold_label_and_records_who_before_after(project, owner, split):
    doc = split["docs"][0]
    correction = split_task_decide(task=split["task"], document=doc, annotator=owner, path=_path(split["physics"]))
    assert list(GoldLabel.objects.filter(document=doc).values_list("node_id", flat=True)) == [split["physics"].pk]
    assert correction.annotator == owner and correction.action == "change"
    assert correction.before_names == [["Sci"]] and correction.after_names == [["Sci", "Physics"]]
    assert correction.taxonomy_version == split["task"].taxonomy_version == 4  # 3 creates + 1 split
    assert split_task_remaining(task=split["task"]) == sorted(d.pk for d in split["docs"][1:])
    # the other documents and the untouched label are left alone
    assert GoldLabel.objects.get(document=split["other"][0]).node == split["nodes"]["Sport > Football"]
    assert GoldLabel.objects.filter(node=split["nodes"]["Sci"]).count() == 2


def test_a_decision_must_name_a_label_under_the_split_node(owner, split):
    task, doc = split["task"], split["docs"][0]
    for bad in ([split["nodes"]["Sci"].pk], _path(split["nodes"]["Sport > Football"]), []):
        with pytest.raises(ValidationError):
            split_task_decide(task=task, document=doc, annotator=owner, path=bad)
    with pytest.raises(ValidationError, match="not part of the task"):
        split_task_decide(task=task, document=split["other"][0], annotator=owner, path=_path(split["physics"]))
    assert not Correction.objects.exists()


def test_next_skips_decided_documents_until_the_task_is_done(owner, split):
    task = split["task"]
    seen = []
    while (doc := split_task_next(task=task, annotator=owner)) is not None:
        seen.append(doc.pk)
        split_task_decide(task=task, document=doc, annotator=owner, path=_path(split["biology"]))
    assert seen == sorted(d.pk for d in split["docs"])
    assert split_task_remaining(task=task) == []


def test_task_pages_decide_through_http(client_for, project, owner, split):
    client = client_for(owner)
    task, doc = split["task"], split["docs"][1]
    index = client.get(reverse("review:index", args=[project.pk]))
    assert reverse("review:task", args=[project.pk, task.pk]).encode() in index.content
    listing = client.get(reverse("review:task", args=[project.pk, task.pk]))
    assert b'id="task-remaining">3<' in listing.content
    start = client.get(reverse("review:task_next", args=[project.pk, task.pk]))
    first = reverse("review:task_item", args=[project.pk, task.pk, split["docs"][0].pk])
    assert start["Location"] == first
    url = reverse("review:task_item", args=[project.pk, task.pk, doc.pk])
    page = client.get(url)
    picker = page.context["picker"]
    assert {n["name"] for n in picker["nodes"]} == {"Sci", "Physics", "Biology"}  # nothing outside the subtree
    assert picker["startLevel"] == 1 and picker["initial"] == [_path(split["nodes"]["Sci"])]
    response = client.post(url, {"action": "change", "paths": json.dumps([_path(split["biology"])])})
    assert response.status_code == 302
    assert GoldLabel.objects.get(document=doc).node == split["biology"]
    # reject (the picker's "r" key) is not a child: refused with a message, nothing recorded
    other = split["docs"][2]
    client.post(reverse("review:task_item", args=[project.pk, task.pk, other.pk]), {"action": "reject"})
    assert GoldLabel.objects.get(document=other).node == split["nodes"]["Sci"]
    assert Correction.objects.count() == 1


def test_viewers_cannot_decide(client_for, project, make_user, add_member, split):
    viewer = make_user("vic")
    add_member(project, viewer, Role.VIEWER)
    client = client_for(viewer)
    url = reverse("review:task_item", args=[project.pk, split["task"].pk, split["docs"][0].pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "change", "paths": json.dumps([_path(split["physics"])])})
    assert response.status_code == 403
    assert not Correction.objects.exists()
