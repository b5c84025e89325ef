"""User text with bidi overrides is isolated on the pages (issue 21, item 9): names in <bdi>, text with dir=auto,
so an RTL override in one label cannot reorder the text around it."""

from __future__ import annotations

import html
import io

import pytest

pytestmark = pytest.mark.django_db

RLO = "evil\u202eredro\u200b" + "e\u0301" * 50


def test_project_label_and_document_names_are_isolated(client_for, owner, make_project, build_tree):
    from corpora.models import Document
    from corpora.services import corpus_import

    project = make_project(f"P {RLO}")
    nodes = build_tree(project, {f"L {RLO}": {}})
    client = client_for(owner)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert f"<bdi>{html.escape(project.name)}</bdi>" in page
    label = nodes[f"L {RLO}"]
    editor = client.get(f"/projects/{project.pk}/taxonomy/?node={label.pk}").content.decode()
    assert f"<bdi>{html.escape(label.name)}</bdi>" in editor
    data = f"id,text\nd1,{RLO} text\n".encode()
    corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner)
    doc = Document.objects.get(project=project, external_id="d1")
    body = client.get(f"/projects/{project.pk}/documents/{doc.pk}/").content.decode()
    assert 'class="doc-text" dir="auto"' in body
