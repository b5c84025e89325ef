"""A full or read-only disk answers in words (507/503) on every route, leaves no orphan upload and loses nothing
committed; a token's last-used write (a hint) never fails a read (issue 21, item 3 of the report)."""

from __future__ import annotations

import errno
from contextlib import contextmanager

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError, connection
from django.test import Client

from corpora.models import Corpus, Document

pytestmark = pytest.mark.django_db

FULL = "database or disk is full"


@contextmanager
def failing_writes(table: str, message: str = FULL, verb: str = "INSERT", match: str = ""):
    """Every `verb` statement on `table` (that contains `match`) fails as the database does on a full disk
    (SQLite's words)."""

    def wrapper(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(verb) and table in sql and match in sql:
            raise OperationalError(message)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


@pytest.fixture
def api(world, token_client):
    return token_client(world["users"]["annotator"]), f"/api/v1/projects/{world['project'].pk}/"


CSV = b"id,text,path\nn1,first,Sci > Bio\nn2,second,Sport > Team\n"


def test_a_token_read_succeeds_when_its_last_used_time_cannot_be_written(api):
    client, _ = api
    with failing_writes("api_apitoken", verb="UPDATE"):
        response = client.get("/api/v1/projects/")
    assert response.status_code == 200 and response.json()["results"]


def test_an_api_upload_on_a_full_disk_is_507_in_the_json_error_shape(api):
    client, base = api
    before = (Corpus.objects.count(), Document.objects.count())
    with failing_writes("corpora_corpus"):
        response = client.post(base + "corpora/", {"file": SimpleUploadedFile("new.csv", CSV)}, format="multipart")
    assert response.status_code == 507
    body = response.json()
    assert "disk is full" in body["detail"] and body["errors"][0]["message"] == body["detail"]
    assert (Corpus.objects.count(), Document.objects.count()) == before  # all or nothing


def test_a_page_upload_on_a_full_disk_is_507_with_a_clear_message(world, client):
    client.force_login(world["users"]["annotator"])
    with failing_writes("corpora_corpus"):
        response = client.post(f"/projects/{world['project'].pk}/upload/", {"file": SimpleUploadedFile("new.csv", CSV)})
    assert response.status_code == 507
    assert b"disk is full" in response.content and b"was not saved" in response.content


def test_a_background_upload_that_hits_enospc_leaves_no_file(world, api, settings, monkeypatch, tmp_path):
    from django.core.files.base import File
    from django.core.files.storage import filesystem

    settings.HTC_INLINE_IMPORT_BYTES = 10
    settings.HTC_UPLOAD_DIR = tmp_path / "uploads"

    def full_disk_move(old_name, new_name, *args, **kwargs):
        with open(new_name, "wb") as out:  # the copy starts, then the disk is full
            out.write(b"id,text")
        raise OSError(errno.ENOSPC, "No space left on device")

    def full_disk_chunks(self, chunk_size=None):
        yield b"id,text,path\n"
        raise OSError(errno.ENOSPC, "No space left on device")

    # Whichever way the storage writes the upload (moving the spooled temporary file, or copying chunks).
    monkeypatch.setattr(filesystem, "file_move_safe", full_disk_move)
    monkeypatch.setattr(File, "chunks", full_disk_chunks)
    client, base = api
    response = client.post(base + "corpora/", {"file": SimpleUploadedFile("big.csv", CSV)}, format="multipart")
    assert response.status_code == 507 and "disk is full" in response.json()["detail"]
    assert not any((tmp_path / "uploads").iterdir())


def test_a_read_only_database_is_503_with_retry_after(api):
    client, base = api
    with failing_writes("corpora_corpus", message="attempt to write a readonly database"):
        response = client.post(base + "corpora/", {"file": SimpleUploadedFile("new.csv", CSV)}, format="multipart")
    assert response.status_code == 503 and "read-only" in response.json()["detail"]
    assert response["Retry-After"]


def test_a_full_disk_while_saving_the_session_at_login_is_507_not_500(world):
    client = Client(raise_request_exception=False)
    world["users"]["annotator"].set_password("a-long-password-1")
    world["users"]["annotator"].save()
    with failing_writes("django_session"):
        response = client.post(
            "/accounts/login/", {"username": world["users"]["annotator"].username, "password": "a-long-password-1"}
        )
    assert response.status_code == 507 and b"disk is full" in response.content
