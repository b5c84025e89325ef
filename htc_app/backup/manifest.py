"""What a backup records about itself: format, htc version, database vendor, row counts and checksums."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path
from typing import Any, BinaryIO

from django.apps import apps
from django.conf import settings
from django.db import connection

FORMAT = "htc-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
#: Rows `migrate` itself creates: a freshly migrated database holding only these counts as empty.
SCAFFOLD_MODELS = {"contenttypes.contenttype", "auth.permission", "sessions.session"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def htc_version() -> str:
    """The version in pyproject.toml (htc is run from its source tree, not installed)."""
    try:
        data = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())
        return str(data["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


def _tables() -> dict[str, str]:
    """{"app_label.model_name": db_table} for every concrete model this code knows."""
    out = {}
    for model in apps.get_models():
        meta = model._meta
        if meta.managed and not meta.proxy:
            out[meta.label_lower] = meta.db_table
    return out


def table_counts(cursor=None, existing: set[str] | None = None) -> dict[str, int]:
    """Row count of every model table that exists (missing tables are left out).

    `cursor` and `existing` (its table names) count another database, e.g. a fresh SQLite copy;
    by default Django's default connection is counted."""
    if cursor is None:
        with connection.cursor() as own:
            return table_counts(own, set(connection.introspection.table_names()))
    counts = {}
    for label, table in sorted(_tables().items()):
        if table in existing:
            cursor.execute('SELECT COUNT(*) FROM "{}"'.format(table.replace('"', '""')))
            counts[label] = int(cursor.fetchone()[0])
    return counts


def user_data_counts() -> dict[str, int]:
    """The non-zero counts of tables holding user data (everything but what `migrate` creates)."""
    return {k: v for k, v in table_counts().items() if v and k not in SCAFFOLD_MODELS}


def applied_migrations(cursor=None, existing: set[str] | None = None) -> dict[str, list[str]]:
    """{app: [migration names]} applied in the database (empty when it was never migrated)."""
    if cursor is None:
        with connection.cursor() as own:
            return applied_migrations(own, set(connection.introspection.table_names()))
    if "django_migrations" not in existing:
        return {}
    out: dict[str, list[str]] = {}
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    for app, name in cursor.fetchall():
        out.setdefault(app, []).append(name)
    return out


def fernet_fingerprint() -> str:
    """A short hash of the key that encrypts stored LLM API keys (the key itself is never backed up)."""
    key = settings.HTC_FERNET_KEY
    if not key:
        key_file = Path(settings.HTC_DATA_DIR) / "fernet_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
    return hashlib.sha256(key.encode()).hexdigest()[:16] if key else ""


class HashingReader:
    """Wraps a binary file: reads pass through while a SHA-256 and a byte count accumulate."""

    def __init__(self, fh: BinaryIO, on_bytes=None):
        self.fh = fh
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.on_bytes = on_bytes

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.sha256.update(data)
        self.size += len(data)
        if self.on_bytes and data:
            self.on_bytes(len(data))
        return data


def check_manifest(manifest: Any) -> dict:
    """Validate the shape of a manifest read from an archive; returns it or raises BackupError."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("This file is not an htc backup (its manifest is missing or foreign).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"Backup format version {manifest.get('format_version')!r} is not supported "
            f"(this htc reads version {FORMAT_VERSION})."
        )
    files = manifest.get("files")
    database = manifest.get("database")
    if not isinstance(files, list) or not isinstance(database, dict) or "file" not in database:
        raise BackupError("The backup manifest is incomplete (no file list or database entry).")
    for entry in files:
        if not isinstance(entry, dict) or not {"path", "size", "sha256"} <= entry.keys():
            raise BackupError("The backup manifest has a malformed file entry.")
    return manifest
