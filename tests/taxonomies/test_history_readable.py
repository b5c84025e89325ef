"""The taxonomy history reads as sentences with names: no raw node ids, None or []."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from taxonomies.services import node_create, node_delete, node_move, node_rename, node_update_description

pytestmark = pytest.mark.django_db


def test_every_change_is_a_readable_sentence_with_names(project, owner, build_tree, client_for):
    tree = build_tree(project, {"CS": {"ML": {}, "CV": {}}, "Med": {}}, actor=owner)
    node_rename(node=tree["Med"], name="Medicine", actor=owner)
    node_move(node=tree["CS > ML"], new_parent=tree["Med"], actor=owner)
    node_move(node=tree["CS > CV"], new_parent=None, actor=owner)
    node_update_description(node=tree["CS"], description="Computing", terms=["code", "bits"], actor=owner)
    extra = node_create(taxonomy=project.taxonomy, name="Tmp", parent=tree["CS"], actor=owner)
    node_delete(node=extra, actor=owner)
    response = client_for(owner).get(reverse("taxonomies:history", args=[project.pk]))
    html = response.content.decode()
    cells = re.findall(r'<td class="change-summary">(.*?)</td>', html, flags=re.S)
    text = "\n".join(cells)
    assert "Renamed “Med” to “Medicine”." in text
    assert "Moved “ML” from “CS” to “Medicine” (now “Medicine &gt; ML”)." in text
    assert "Moved “CV” from “CS” to the top level" in text
    assert "Added “ML” under “CS”." in text and "Added “CS” at the top level." in text
    assert "Edited “CS”: description “Computing”; terms code, bits." in text
    assert "Deleted “CS &gt; Tmp”." in text
    for raw in ("None", "[]", "from_parent", "to_parent", str(tree["CS"].pk) + "<"):
        assert raw not in text, raw
