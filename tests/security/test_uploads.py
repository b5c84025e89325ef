"""Request size limits (reliability.md #5): bodies over the cap get 413 before they are stored, temporary
files are removed, memory stays flat while a large body streams through, and Django's own limits on files,
fields and form data answer 400, never 500. Nothing is written in any of these cases."""

from __future__ import annotations

import tempfile
import tracemalloc
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, ClientHandler, RequestFactory, encode_multipart
from django.urls import reverse

from tests.security.world import snapshot

pytestmark = pytest.mark.django_db


def _upload_temp_files() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("*.upload*"))


def _multipart(size: int) -> bytes:
    """A multipart body with one file field of `size` bytes (a TXT corpus, one short document a line)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    return head + b"a line of text\n" * (size // 15) + f"\r\n--{BOUNDARY}--\r\n".encode()


def _run(client, environ_extra: dict, body: bytes, url: str):
    """Send a raw body through the full handler (middleware, upload handlers) as `client`'s session."""
    request = RequestFactory().generic("POST", url, body, content_type=MULTIPART_CONTENT, **environ_extra)
    environ = request.environ
    environ["HTTP_COOKIE"] = client.cookies.output(header="", sep=";").strip()
    return ClientHandler(enforce_csrf_checks=False)(environ)


def test_a_body_over_the_cap_gets_413_stores_nothing_and_leaves_no_temp_file(worlds, clients, settings):
    alpha, _ = worlds
    settings.HTC_MAX_UPLOAD_BYTES = 2 * 1024 * 1024
    settings.HTC_INLINE_IMPORT_BYTES = 1024
    url = reverse("corpora:upload", args=[alpha.project.pk])
    stored = lambda: set(Path(settings.HTC_UPLOAD_DIR).glob("**/*"))  # noqa: E731
    before, temps, kept = snapshot(), _upload_temp_files(), stored()
    response = _run(clients["annotator"], {}, _multipart(6 * 1024 * 1024), url)
    assert response.status_code == 413
    assert snapshot() == before
    assert _upload_temp_files() == temps  # the partial temporary file was removed
    assert stored() == kept  # nothing queued for a background import


def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read(worlds, clients, settings):
    alpha, _ = worlds
    settings.HTC_MAX_UPLOAD_BYTES = 1024 * 1024
    url = reverse("corpora:upload", args=[alpha.project.pk])
    before = snapshot()
    body = _multipart(10_000)
    # A client announcing 10 GB: refused on the header alone (the 10 KB actually sent are never parsed).
    response = _run(clients["annotator"], {"CONTENT_LENGTH": str(10 * 1024**3)}, body, url)
    assert response.status_code == 413
    assert snapshot() == before


def test_memory_stays_flat_while_a_large_body_streams_to_the_limit(worlds, clients, settings):
    alpha, _ = worlds
    settings.HTC_MAX_UPLOAD_BYTES = 16 * 1024 * 1024
    url = reverse("corpora:upload", args=[alpha.project.pk])
    body = _multipart(40 * 1024 * 1024)
    request = RequestFactory().generic("POST", url, body, content_type=MULTIPART_CONTENT)
    environ = request.environ
    environ["HTTP_COOKIE"] = clients["annotator"].cookies.output(header="", sep=";").strip()
    del body
    tracemalloc.start()
    try:
        response = ClientHandler(enforce_csrf_checks=False)(environ)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 413
    assert peak < 8 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB while streaming a 40 MiB body"


def test_more_files_than_allowed_is_a_400(worlds, clients, settings):
    alpha, _ = worlds
    files = {
        f"file{i}": SimpleUploadedFile(f"f{i}.txt", b"x\n") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FILES + 1)
    }
    before = snapshot()
    response = clients["annotator"].post(reverse("corpora:upload", args=[alpha.project.pk]), files)
    assert response.status_code == 400
    assert snapshot() == before


def test_more_fields_than_allowed_is_a_400(worlds, clients, settings):
    alpha, _ = worlds
    node = alpha.nodes["Sci > Bio"]
    data = {f"f{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)} | {"name": "Renamed"}
    before = snapshot()
    response = clients["owner"].post(reverse("taxonomies:node_rename", args=[alpha.project.pk, node.pk]), data)
    assert response.status_code == 400
    assert snapshot() == before


def test_form_data_over_the_memory_cap_is_a_400(worlds, clients, settings):
    alpha, _ = worlds
    node = alpha.nodes["Sci > Bio"]
    description = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440)
    before = snapshot()
    url = reverse("taxonomies:node_describe", args=[alpha.project.pk, node.pk])
    response = clients["owner"].post(url, {"description": description, "terms": ""})
    assert response.status_code == 400
    assert snapshot() == before
    # The same field inside a multipart body is limited too.
    body = encode_multipart(BOUNDARY, {"description": description, "terms": ""})
    assert _run(clients["owner"], {}, body, url).status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize("declared", [False, True])
def test_a_taxonomy_file_over_the_cap_gets_413_not_a_missing_file_error(declared, worlds, clients, settings):
    alpha, _ = worlds
    settings.HTC_MAX_UPLOAD_BYTES = 1024 * 1024 if declared else 1000
    url = reverse("taxonomies:import", args=[alpha.project.pk])
    before = snapshot()
    body = encode_multipart(BOUNDARY, {"file": SimpleUploadedFile("t.txt", b"Label\n" * 2000), "mode": "merge"})
    extra = {"CONTENT_LENGTH": str(3 * 1024 * 1024)} if declared else {}
    response = _run(clients["owner"], extra, body, url)
    assert response.status_code == 413
    assert b"larger than the upload limit" in response.content
    assert snapshot() == before
