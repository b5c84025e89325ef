"""Upload, document list, document page and export views: permissions, filters, escaping, limits."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from corpora.models import Document
from projects.models import Role

TREE = {"Sci": {"Med": {}, "Space": {}}, "Rec": {}}
XSS = '<img src=x onerror="alert(1)"></script><script>alert(2)</script>'


def urls(project, doc_id=1):
    return [
        reverse("corpora:upload", args=[project.pk]),
        reverse("corpora:documents", args=[project.pk]),
        reverse("corpora:document", args=[project.pk, doc_id]),
        reverse("corpora:export", args=[project.pk]) + "?format=csv",
    ]


@pytest.fixture
def filled(project, build_tree, import_bytes):
    build_tree(project, TREE)
    rows = [
        {
            "id": f"d{i:03d}",
            "text": f"document number {i}",
            "path": ["Sci", "Med"] if i % 2 else ["Rec"],
            "split": "train" if i % 3 else "test",
        }
        for i in range(120)
    ]
    rows.append({"id": "evil", "text": XSS, "path": ["Sci", "Space"], "split": "dev"})
    import_bytes(project, "c.jsonl", "".join(json.dumps(r) + "\n" for r in rows).encode())
    return project


def test_anonymous_users_are_sent_to_login(client, filled):
    for url in urls(filled):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_non_members_get_404_everywhere(client_for, make_user, filled):
    client = client_for(make_user("stranger"))
    doc = Document.objects.filter(project=filled).first()
    for url in urls(filled, doc.pk):
        assert client.get(url).status_code == 404, url
    upload = SimpleUploadedFile("c.txt", b"hello\n")
    assert client.post(urls(filled)[0], {"file": upload}).status_code == 404
    assert Document.objects.filter(project=filled).count() == 121


def test_viewers_read_but_cannot_upload(client_for, make_user, add_member, filled):
    viewer = make_user("viewer")
    add_member(filled, viewer, Role.VIEWER)
    client = client_for(viewer)
    assert client.get(reverse("corpora:documents", args=[filled.pk])).status_code == 200
    assert client.get(urls(filled)[0]).status_code == 403
    response = client.post(urls(filled)[0], {"file": SimpleUploadedFile("c.txt", b"hello\n")})
    assert response.status_code == 403
    assert Document.objects.filter(project=filled).count() == 121


def test_document_of_another_project_is_404(client_for, owner, make_project, filled, import_bytes):
    other = make_project("Other")
    import_bytes(other, "o.txt", b"other text\n")
    foreign = Document.objects.get(project=other)
    response = client_for(owner).get(reverse("corpora:document", args=[filled.pk, foreign.pk]))
    assert response.status_code == 404


def test_annotator_uploads_inline_and_sees_the_result(client_for, make_user, add_member, filled):
    annotator = make_user("annotator")
    add_member(filled, annotator, Role.ANNOTATOR)
    client = client_for(annotator)
    data = b"id,text,path\nn1,new one,Sci > Med\nn2,new two,Arts\n"
    response = client.post(
        urls(filled)[0],
        {"file": SimpleUploadedFile("new.csv", data), "add_missing_labels": "on", "test_fraction": "0.5", "seed": "3"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Imported 2 documents into corpus new.csv." in response.content
    assert sorted(Document.objects.filter(corpus__name="new.csv").values_list("split", flat=True)) == ["test", "train"]


def test_upload_errors_are_listed_escaped_and_nothing_is_written(client_for, owner, filled):
    name = '<img src=x onerror="alert(1)">.csv'
    data = f"id,text,path\nx1,{XSS.replace(chr(34), '')},Nope > {XSS.replace(chr(34), '')}\n".encode()
    response = client_for(owner).post(urls(filled)[0], {"file": SimpleUploadedFile(name, data)})
    assert response.status_code == 400
    body = response.content.decode()
    assert "unknown label" in body and "line 2" in body
    assert "<img src=x" not in body and "<script>alert" not in body
    assert "&lt;img src=x onerror=" in body
    assert Document.objects.filter(project=filled).count() == 121


def test_upload_over_the_size_limit_gets_a_clear_413(client_for, owner, filled, settings):
    settings.HTC_MAX_UPLOAD_BYTES = 1000
    response = client_for(owner).post(urls(filled)[0], {"file": SimpleUploadedFile("big.txt", b"x\n" * 5000)})
    assert response.status_code == 413
    assert b"larger than the upload limit" in response.content
    assert Document.objects.filter(project=filled).count() == 121


def test_document_list_paginates_and_shows_gold_paths(client_for, owner, filled):
    client = client_for(owner)
    url = reverse("corpora:documents", args=[filled.pk])
    first = client.get(url)
    assert first.status_code == 200
    page = first.context["page"]
    assert len(page.rows) == 50 and page.has_next and page.total == 121
    assert page.rows[1]["paths"] == [["Sci", "Med"]] and page.rows[0]["paths"] == [["Rec"]]
    third = client.get(url, {"page": 3}).context["page"]
    assert len(third.rows) == 21 and not third.has_next


def test_document_list_filters_by_text_split_and_node_with_descendants(client_for, owner, filled):
    from taxonomies.models import Node

    client = client_for(owner)
    url = reverse("corpora:documents", args=[filled.pk])
    rows = client.get(url, {"q": "NUMBER 11"}).context["page"].rows
    assert sorted(r["external_id"] for r in rows) == [
        "d011",
        "d110",
        "d111",
        "d112",
        "d113",
        "d114",
        "d115",
        "d116",
        "d117",
        "d118",
        "d119",
    ]
    sci = Node.objects.get(taxonomy=filled.taxonomy, name="Sci")
    page = client.get(url, {"node": sci.pk, "split": "test"}).context["page"]
    ids = [r["external_id"] for r in page.rows]
    assert ids and all(int(i[1:]) % 2 == 1 and int(i[1:]) % 3 == 0 for i in ids)
    assert page.total == len([i for i in range(120) if i % 2 == 1 and i % 3 == 0])
    space = Node.objects.get(taxonomy=filled.taxonomy, name="Space")
    assert [r["external_id"] for r in client.get(url, {"node": space.pk}).context["page"].rows] == ["evil"]


def test_document_text_is_escaped_in_list_and_page(client_for, owner, filled):
    client = client_for(owner)
    doc = Document.objects.get(project=filled, external_id="evil")
    for url in (
        reverse("corpora:documents", args=[filled.pk]) + "?split=dev",
        reverse("corpora:document", args=[filled.pk, doc.pk]),
    ):
        body = client.get(url).content.decode()
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body, url
        assert "<script>alert(2)" not in body and "<img src=x" not in body


def test_document_page_shows_text_paths_corpus_and_split(client_for, owner, filled):
    doc = Document.objects.get(project=filled, external_id="d001")
    response = client_for(owner).get(reverse("corpora:document", args=[filled.pk, doc.pk]))
    assert response.context["paths"] == [["Sci", "Med"]]
    body = response.content.decode()
    assert "document number 1" in body and "c.jsonl" in body and "Train" in body


def test_export_view_streams_an_attachment(client_for, owner, filled):
    response = client_for(owner).get(reverse("corpora:export", args=[filled.pk]), {"format": "jsonl"})
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="project-{filled.pk}-documents.jsonl"'
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert len(lines) == 121 and json.loads(lines[0])["id"] == "d000"
    bad = client_for(owner).get(reverse("corpora:export", args=[filled.pk]), {"format": "exe"})
    assert bad.status_code == 404


def test_upload_form_maps_split_names_and_explains_a_bad_mapping(client_for, owner, filled):
    data = b"id,text,split\nm1,one,train_subset\nm2,two,Heldout\n"
    client = client_for(owner)
    refused = client.post(urls(filled)[0], {"file": SimpleUploadedFile("s.csv", data)})
    assert refused.status_code == 400
    assert "unknown split &#x27;train_subset&#x27; (use train, dev or test, or map" in refused.content.decode()
    bad = client.post(urls(filled)[0], {"file": SimpleUploadedFile("s.csv", data), "split_map": "train_subset"})
    assert bad.status_code == 400 and "is not name=train" in bad.content.decode()
    done = client.post(
        urls(filled)[0],
        {"file": SimpleUploadedFile("s.csv", data), "split_map": "train_subset=train, heldout=dev"},
        follow=True,
    )
    assert done.status_code == 200 and b"Imported 2 documents" in done.content
    assert dict(Document.objects.filter(corpus__name="s.csv").values_list("external_id", "split")) == {
        "m1": "train",
        "m2": "dev",
    }


def test_document_list_seeks_forward_and_back_by_id(client_for, owner, filled):
    client = client_for(owner)
    url = reverse("corpora:documents", args=[filled.pk])
    first = client.get(url).context["page"]
    assert f'page=2&amp;after={first.next_after}" rel="next"' in client.get(url).content.decode()
    second = client.get(url, {"page": 2, "after": first.next_after}).context["page"]
    by_offset = client.get(url, {"page": 2}).context["page"]
    assert [r["id"] for r in second.rows] == [r["id"] for r in by_offset.rows] and second.number == 2
    back = client.get(url, {"page": 1, "before": second.previous_before}).context["page"]
    assert [r["id"] for r in back.rows] == [r["id"] for r in first.rows]
    third = client.get(url, {"page": 3, "after": second.next_after}).context["page"]
    assert len(third.rows) == 21 and not third.has_next and third.total == 121


def test_document_count_follows_a_new_import(client_for, owner, filled, import_bytes):
    client = client_for(owner)
    url = reverse("corpora:documents", args=[filled.pk])
    assert client.get(url).context["page"].total == 121
    import_bytes(filled, "more.txt", b"one more\n")
    assert client.get(url).context["page"].total == 122
