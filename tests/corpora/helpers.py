"""Small builders shared by the corpora tests."""

from __future__ import annotations

import io
import zipfile


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    """A deflated zip archive, in memory, of (name or ZipInfo, data) entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def records(data: bytes, file_name: str) -> list:
    """Everything a reader yields for a file (records and per-record errors)."""
    from corpora.formats import read_records

    return list(read_records(io.BytesIO(data), file_name))


def unindexed() -> int:
    """Documents a bulk import wrote that are not in the text index yet."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT count(*) FROM corpora_document_fts_pending")
        else:
            cursor.execute("SELECT count(*) FROM corpora_document WHERE search_vector IS NULL")
        return cursor.fetchone()[0]
