"""NUL characters in imported JSON, through the API: refused with a 400 on every database.

PostgreSQL refuses NUL in text and JSON columns, so a "\\u0000" that reached the database was a 500 there;
the import pipelines (taxonomies/transfer.py, corpora readers) now refuse it up front, naming the place.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db


def test_a_nul_in_a_taxonomy_description_is_refused(world, token_client):
    client = token_client(world["users"]["owner"])
    upload = SimpleUploadedFile("t.json", b'[{"name": "Arts", "description": "x\\u0000y"}]')
    response = client.post(f"/api/v1/projects/{world['project'].pk}/taxonomy/import/", {"file": upload})
    assert response.status_code == 400, response.content
    assert "NUL" in response.content.decode() or "\\u0000" in response.content.decode()


def test_a_nul_in_document_meta_is_refused(world, token_client):
    client = token_client(world["users"]["owner"])
    line = b'{"id": "z", "text": "ok", "path": ["Sci"], "meta": {"k": "a\\u0000"}}\n'
    response = client.post(
        f"/api/v1/projects/{world['project'].pk}/corpora/", {"file": SimpleUploadedFile("n.jsonl", line)}
    )
    assert response.status_code == 400, response.content
    assert "line 1" in response.content.decode()
