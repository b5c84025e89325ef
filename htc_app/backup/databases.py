"""Consistent database dumps and their restore, per vendor.

SQLite: the sqlite3 online backup API, copying page by page from inside one read transaction. Under WAL
the app keeps writing meanwhile; the copy is the snapshot of the moment the backup began (the open read
transaction pins it, so concurrent commits neither tear the copy nor restart it).

PostgreSQL: `pg_dump --format=custom` and `pg_restore`. pg_dump takes its whole dump inside one snapshot
(a REPEATABLE READ, read-only transaction; here the snapshot exported by our own transaction, in which the
manifest's row counts are taken), so the copy is consistent while the app runs, and it carries
sequences, constraints and indexes exactly, for any table the migrations created, without htc having to
know them. The custom format is compressed and can be restored by hand with the standard tools. A portable
Python dump (dumpdata-style) was the alternative; it would re-implement what pg_dump does correctly
and be far slower on millions of predictions. The client must be at least the server's major version;
this is checked first with a clear message.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

from django.db import connection, transaction

from htc_app.backup.manifest import BackupError, applied_migrations, table_counts

Progress = Callable[[int, int], None] | None
SQLITE_STEP_PAGES = 256


def vendor() -> str:
    """'sqlite' or 'postgresql' (the only vendors htc supports)."""
    if connection.vendor not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {connection.vendor}.")
    return connection.vendor


def dump_database(target: Path, *, progress: Progress = None) -> dict:
    """Write a consistent dump of the default database to `target`.

    Returns {"entry": manifest entry, "counts": rows per table, "migrations": applied migrations}, the
    counts and migrations read from the very snapshot that was dumped."""
    if vendor() == "sqlite":
        return _sqlite_dump(Path(connection.settings_dict["NAME"]), target, progress=progress)
    return _pg_dump(target, progress=progress)


def restore_database(source: Path, *, progress: Progress = None) -> None:
    """Replace the default database's contents with the dump at `source`."""
    if vendor() == "sqlite":
        _sqlite_restore(source, Path(connection.settings_dict["NAME"]), progress=progress)
    else:
        _pg_restore(source, progress=progress)


# ----- SQLite -----
def _sqlite_copy(src: sqlite3.Connection, dst: sqlite3.Connection, progress: Progress) -> None:
    def step(status: int, remaining: int, total: int) -> None:
        if progress:
            progress(total - remaining, total)

    src.backup(dst, pages=SQLITE_STEP_PAGES, progress=step)


def _sqlite_dump(source: Path, target: Path, *, progress: Progress) -> dict:
    if not source.exists():
        raise BackupError(f"The SQLite database {source} does not exist.")
    src = sqlite3.connect(source, timeout=30, isolation_level=None)
    dst = sqlite3.connect(target)
    try:
        # One read transaction for the whole copy: a stable snapshot, whatever commits meanwhile.
        src.execute("BEGIN")
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        _sqlite_copy(src, dst, progress)
        src.execute("COMMIT")
        dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        check = dst.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"The SQLite copy failed its integrity check: {check}")
        cursor = dst.cursor()
        existing = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        counts, migrations = table_counts(cursor, existing), applied_migrations(cursor, existing)
    finally:
        dst.close()
        src.close()
    entry = {"vendor": "sqlite", "method": "sqlite3 online backup", "server_version": sqlite3.sqlite_version}
    return {"entry": entry, "counts": counts, "migrations": migrations}


def _sqlite_restore(source: Path, target: Path, *, progress: Progress) -> None:
    src = sqlite3.connect(source)
    try:
        if src.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("The database in the backup is damaged (SQLite integrity check failed).")
        connection.close()
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            _sqlite_copy(src, dst, progress)
        finally:
            dst.close()
    finally:
        src.close()


# ----- PostgreSQL -----
def _pg_env() -> dict[str, str]:
    """libpq environment for the default database: the password never appears on a command line."""
    sd = connection.settings_dict
    env = dict(os.environ)
    for key, var in (("HOST", "PGHOST"), ("PORT", "PGPORT"), ("USER", "PGUSER"), ("PASSWORD", "PGPASSWORD")):
        if sd.get(key):
            env[var] = str(sd[key])
    env["PGDATABASE"] = sd["NAME"]
    if (sd.get("OPTIONS") or {}).get("sslmode"):
        env["PGSSLMODE"] = sd["OPTIONS"]["sslmode"]
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"`{name}` was not found: install the PostgreSQL client (postgresql-client).")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    client_major = int(match.group(1)) if match else 0
    connection.ensure_connection()
    server_major = connection.pg_version // 10000
    if client_major < server_major:
        raise BackupError(
            f"`{name}` is version {client_major} but the server runs PostgreSQL {server_major}: "
            f"install postgresql-client-{server_major}."
        )
    return path


def _pg_table_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()")
        return int(cursor.fetchone()[0])


def _run_with_progress(command: list[str], marker: str, total: int, progress: Progress) -> None:
    """Run a pg tool with --verbose, counting its per-table lines as progress; raise on failure."""
    done = 0
    errors: list[str] = []
    with subprocess.Popen(command, env=_pg_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True) as p:
        assert p.stderr is not None
        for line in p.stderr:
            if marker in line:
                done += 1
                if progress:
                    progress(min(done, total), total)
            elif "error" in line.lower():
                errors.append(line.strip())
    if p.returncode != 0:
        detail = "\n".join(errors[-5:]) or f"exit status {p.returncode}"
        raise BackupError(f"{Path(command[0]).name} failed:\n{detail}")
    if progress:
        progress(total, total)


def _pg_dump(target: Path, *, progress: Progress) -> dict:
    """pg_dump inside a snapshot exported by our own REPEATABLE READ transaction, so the row counts and
    migrations we record are those of the exact data dumped."""
    tool = _pg_tool("pg_dump")
    if connection.in_atomic_block:
        raise BackupError("A backup cannot run inside an open transaction.")
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            existing = set(connection.introspection.table_names(cursor))
            counts, migrations = table_counts(cursor, existing), applied_migrations(cursor, existing)
        total = max(1, _pg_table_count())
        command = [
            tool,
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--verbose",
            f"--snapshot={snapshot}",
            f"--file={target}",
        ]
        _run_with_progress(command, "dumping contents of table", total, progress)
    entry = {"vendor": "postgresql", "method": "pg_dump --format=custom", "server_version": connection.pg_version}
    return {"entry": entry, "counts": counts, "migrations": migrations}


def _pg_restore(source: Path, *, progress: Progress) -> None:
    tool = _pg_tool("pg_restore")
    listing = subprocess.run([tool, "--list", str(source)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError("The PostgreSQL dump in the backup cannot be read by pg_restore.")
    total = max(1, sum(1 for line in listing.stdout.splitlines() if " TABLE DATA " in line))
    connection.close()
    command = [
        tool,
        "--clean",
        "--if-exists",
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        "--verbose",
        f"--dbname={connection.settings_dict['NAME']}",
        str(source),
    ]
    _run_with_progress(command, "processing data for table", total, progress)
