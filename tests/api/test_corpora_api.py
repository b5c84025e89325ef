"""Corpus upload through the API (the UI's import pipeline) and document reads."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from corpora.models import Corpus, Document
from jobs.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(world, token_client):
    return token_client(world["users"]["annotator"]), f"/api/v1/projects/{world['project'].pk}/"


def test_upload_imports_documents_with_gold_paths(world, api):
    client, base = api
    data = b"id,text,path,split\nn1,first,Sci > Bio,train\nn2,second,Sport > Team,test\n"
    response = client.post(
        base + "corpora/", {"file": SimpleUploadedFile("new.csv", data), "name": "fresh"}, format="multipart"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "fresh" and body["document_count"] == 2 and body["created_by"] == "annotator"
    docs = client.get(base + "documents/", {"corpus": body["id"]}).json()["results"]
    assert [(d["external_id"], d["gold_paths"], d["split"]) for d in docs] == [
        ("n1", [["Sci", "Bio"]], "train"),
        ("n2", [["Sport", "Team"]], "test"),
    ]


def test_upload_errors_name_file_line_and_field_and_write_nothing(world, api):
    client, base = api
    data = b"id,text,path\nn1,first,Sci > Bio\nn2,second,Nope > Never\nd0,dup,Sci\n"
    before = (Corpus.objects.count(), Document.objects.count())
    response = client.post(base + "corpora/", {"file": SimpleUploadedFile("bad.csv", data)}, format="multipart")
    assert response.status_code == 400
    messages = [e["message"] for e in response.json()["errors"]]
    assert any(m.startswith("bad.csv, line 3, field path: unknown label 'Nope > Never'") for m in messages)
    assert any("document ids already exist in this project: 'd0'" in m for m in messages)
    assert (Corpus.objects.count(), Document.objects.count()) == before


def test_upload_maps_split_names_and_refuses_a_bad_mapping(world, api):
    client, base = api
    data = b"id,text,split\nm1,first,train_subset\nm2,second,heldout\n"
    bad = client.post(
        base + "corpora/", {"file": SimpleUploadedFile("s.csv", data), "split_map": "heldout=later"}, format="multipart"
    )
    assert bad.status_code == 400 and Document.objects.filter(external_id="m1").count() == 0
    fields = {"file": SimpleUploadedFile("s.csv", data), "split_map": "train_subset=train, heldout=test"}
    response = client.post(base + "corpora/", fields, format="multipart")
    assert response.status_code == 201
    assert dict(Document.objects.filter(external_id__in=["m1", "m2"]).values_list("external_id", "split")) == {
        "m1": "train",
        "m2": "test",
    }


def test_a_missing_file_is_a_400_on_the_file_field(world, api):
    client, base = api
    response = client.post(base + "corpora/", {"name": "x"}, format="multipart")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "file"


def test_large_uploads_become_a_background_job(world, api, settings):
    settings.HTC_INLINE_IMPORT_BYTES = 10
    settings.HTC_UPLOAD_DIR = settings.HTC_DATA_DIR / "api-uploads"
    client, base = api
    data = b"id,text,path\nn1,first,Sci > Bio\n"
    response = client.post(base + "corpora/", {"file": SimpleUploadedFile("big.csv", data)}, format="multipart")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "corpus_import" and job.state == Job.State.QUEUED and job.params["file_name"] == "big.csv"
    assert not Document.objects.filter(external_id="n1").exists()  # nothing imported inside the request


def test_document_detail_has_text_and_gold_path_ids(world, api):
    client, base = api
    doc = world["docs"][0]
    body = client.get(base + f"documents/{doc.pk}/").json()
    assert body["text"] == doc.text
    assert body["gold_path_ids"] == [world["path"]("Sci > Phys > Astro")]


def test_documents_of_another_project_are_404(world, api):
    from corpora.models import Corpus as C

    other_corpus = C.objects.create(project=world["other"], name="theirs")
    other_doc = Document.objects.create(project=world["other"], corpus=other_corpus, external_id="x", text="secret")
    client, base = api
    assert client.get(base + f"documents/{other_doc.pk}/").status_code == 404
    assert client.get(base + f"corpora/{other_corpus.pk}/").status_code == 404


def test_an_upload_over_the_limit_is_a_413_and_writes_nothing(world, api, settings):
    settings.HTC_MAX_UPLOAD_BYTES = 100
    client, base = api
    data = b"id,text,path\n" + b"".join(b"x%d,%s,Sci\n" % (i, b"t" * 50) for i in range(50))
    before = Document.objects.count()
    response = client.post(base + "corpora/", {"file": SimpleUploadedFile("big.csv", data)}, format="multipart")
    assert response.status_code == 413 and "upload limit" in response.json()["detail"]
    assert Document.objects.count() == before
