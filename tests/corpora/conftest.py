"""Helpers for the corpora tests: import bytes as a file, build zip archives in memory."""

from __future__ import annotations

import io

import pytest


@pytest.fixture
def import_bytes(owner):
    """import_bytes(project, "corpus.csv", b"...", **options) -> Corpus (raises ValidationError)."""
    from corpora.services import corpus_import

    def run(project, file_name: str, data: bytes, **options):
        return corpus_import(project=project, file_name=file_name, fileobj=io.BytesIO(data), actor=owner, **options)

    return run
