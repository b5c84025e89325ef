"""One tar archive holding the database dump, the trained models and a manifest with SHA-256 checksums.

Layout: `database/<dump>`, `models/<run folder>/...`, and `manifest.json` (written last). The archive is
written under a temporary name and renamed when complete. The database is copied first and the models
second, so every model the database refers to is in the archive (models appear atomically, see
classifiers/engine/atomic.py; half-written `*.tmp-*` folders are skipped).

Restore extracts everything into a staging folder, verifying each file's checksum, before it touches the
database or the models folder; a damaged archive changes nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.db import connection

from classifiers.engine.atomic import fsync_tree, is_partial_name, replace_directory
from htc_app.backup import databases
from htc_app.backup.manifest import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    BackupError,
    HashingReader,
    check_manifest,
    fernet_fingerprint,
    htc_version,
    table_counts,
    user_data_counts,
)

#: make_bar(description, total, unit) -> update(n) callable (a tqdm bar in the commands), or None.
BarFactory = Callable[[str, int, str], Callable[[int], None]] | None
DB_NAMES = {"sqlite": "database/htc.sqlite3", "postgresql": "database/htc.pgdump"}
DB_UNITS = {"sqlite": "page", "postgresql": "table"}


def _bar(make_bar: BarFactory, desc: str, total: int, unit: str) -> Callable[[int], None]:
    return make_bar(desc, total, unit) if make_bar else (lambda n: None)


def _step_bar(make_bar: BarFactory, vendor: str) -> Callable[[int, int], None]:
    """A progress(done, total) callback that opens the "Database" bar on its first call."""
    state: dict = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"], state["done"] = _bar(make_bar, "Database", total, DB_UNITS[vendor]), 0
        state["bar"](done - state["done"])
        state["done"] = done

    return progress


def model_files(root: Path) -> Iterator[Path]:
    """Every file under the models folder, skipping folders that are still being written or retired."""
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not is_partial_name(d))
        for name in sorted(filenames):
            if not is_partial_name(name) and not name.endswith(".tmp"):
                yield Path(dirpath) / name


def backup_create(*, output: Path, make_bar: BarFactory = None) -> dict:
    """Write the database and HTC_DATA_DIR/models into the tar archive `output`; returns the manifest."""
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    vendor = databases.vendor()
    tmp_archive = output.with_name(f"{output.name}.tmp-{uuid.uuid4().hex}")
    dump = output.with_name(f".{output.name}.db-{uuid.uuid4().hex}")
    try:
        # Database first: the snapshot's rows refer only to models that exist by now.
        dumped = databases.dump_database(dump, progress=_step_bar(make_bar, vendor))
        db_entry, counts, migrations = dumped["entry"], dumped["counts"], dumped["migrations"]
        db_name = DB_NAMES[vendor]
        models_root = Path(settings.HTC_MODEL_DIR)
        files = [(dump, db_name)] + [
            (p, "models/" + p.relative_to(models_root).as_posix()) for p in model_files(models_root)
        ]
        total = sum(_size(p) for p, _ in files)
        update = _bar(make_bar, "Archive", total, "B")
        entries = []
        with tarfile.open(tmp_archive, "w", format=tarfile.PAX_FORMAT) as tar:
            for path, name in files:
                try:
                    fh = open(path, "rb")
                except FileNotFoundError:
                    continue  # a model replaced by a retraining while we ran; the newer one is not ours
                with fh:
                    info = tarfile.TarInfo(name)
                    info.size = os.fstat(fh.fileno()).st_size
                    info.mtime = int(os.fstat(fh.fileno()).st_mtime)
                    info.mode = 0o600
                    reader = HashingReader(fh, on_bytes=update)
                    tar.addfile(info, reader)
                    entries.append({"path": name, "size": reader.size, "sha256": reader.sha256.hexdigest()})
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "htc_version": htc_version(),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "database": {**db_entry, "file": db_name},
                "counts": counts,
                "migrations": migrations,
                "model_root": str(models_root),
                "model_count": sum(1 for e in entries if re.fullmatch(r"models/[^/]+/config\.json", e["path"])),
                "fernet_key_fingerprint": fernet_fingerprint(),
                "files": entries,
            }
            data = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST_NAME)
            info.size, info.mode, info.mtime = len(data), 0o600, int(datetime.now(UTC).timestamp())
            tar.addfile(info, io.BytesIO(data))
        os.chmod(tmp_archive, 0o600)
        fsync_tree_file(tmp_archive)
        os.replace(tmp_archive, output)
        return manifest
    finally:
        for leftover in (tmp_archive, dump):
            if leftover.exists():
                leftover.unlink()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def fsync_tree_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_manifest(archive: Path) -> dict:
    """The validated manifest of an archive, or BackupError."""
    try:
        with tarfile.open(archive, "r:") as tar:
            member = tar.getmember(MANIFEST_NAME)
            fh = tar.extractfile(member)
            manifest = json.loads(fh.read()) if fh else None
    except KeyError:
        raise BackupError(f"{archive} has no {MANIFEST_NAME}: not an htc backup.") from None
    except (tarfile.TarError, OSError, ValueError) as exc:
        raise BackupError(f"{archive} cannot be read as an htc backup: {exc}") from None
    return check_manifest(manifest)


def _safe_member_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise BackupError(f"The archive holds an unsafe path {name!r}; refusing it.")
    return path


def _extract_verified(archive: Path, manifest: dict, staging: Path, make_bar: BarFactory) -> None:
    """Extract every listed file into `staging`, checking sizes and SHA-256; raise on any mismatch."""
    expected = {e["path"]: e for e in manifest["files"]}
    if manifest["database"]["file"] not in expected:
        raise BackupError("The backup manifest lists no database dump.")
    update = _bar(make_bar, "Verifying", sum(int(e["size"]) for e in expected.values()), "B")
    seen = set()
    try:
        with tarfile.open(archive, "r:") as tar:
            for member in tar:
                if member.name == MANIFEST_NAME:
                    continue
                if member.name not in expected or not member.isfile():
                    raise BackupError(f"The archive holds {member.name!r}, which its manifest does not list.")
                relative = _safe_member_name(member.name)
                target = staging.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                reader = HashingReader(source, on_bytes=update)
                with open(target, "wb") as out:
                    shutil.copyfileobj(reader, out, 1024 * 1024)
                entry = expected[member.name]
                if reader.size != int(entry["size"]) or reader.sha256.hexdigest() != entry["sha256"]:
                    raise BackupError(f"Checksum mismatch for {member.name}: the archive is damaged; nothing restored.")
                seen.add(member.name)
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"The archive is damaged ({exc}); nothing restored.") from None
    missing = sorted(set(expected) - seen)
    if missing:
        raise BackupError(f"The archive lacks {len(missing)} file(s) its manifest lists, e.g. {missing[0]}.")


def restore_blockers() -> list[str]:
    """What restoring would overwrite: user rows in the database, trained models on disk."""
    blockers = []
    try:
        counts = user_data_counts()
    except Exception:  # an unreadable or unmigrated database holds nothing we could lose
        counts = {}
    if counts:
        sample = ", ".join(f"{label}: {n}" for label, n in sorted(counts.items())[:4])
        blockers.append(f"the database is not empty ({sample}{', ...' if len(counts) > 4 else ''})")
    if any(model_files(Path(settings.HTC_MODEL_DIR))):
        blockers.append(f"{settings.HTC_MODEL_DIR} already holds model files")
    return blockers


def backup_restore(*, archive: Path, force: bool = False, make_bar: BarFactory = None) -> dict:
    """Bring back the database and models of `archive`; returns a report (manifest, counts, warnings).

    Refuses a non-empty database or models folder unless `force`. Checksums are verified before anything
    is changed; row counts are compared with the manifest afterwards."""
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"No such backup file: {archive}")
    manifest = read_manifest(archive)
    vendor = databases.vendor()
    if manifest["database"].get("vendor") != vendor:
        raise BackupError(
            f"This backup holds a {manifest['database'].get('vendor')} database; the configured database is "
            f"{vendor}. Restore it into a {manifest['database'].get('vendor')} database."
        )
    unknown = _unknown_migrations(manifest.get("migrations") or {})
    if unknown and not force:
        raise BackupError(
            f"This backup was made by a newer htc (migration {unknown[0]} is unknown here): upgrade htc first, "
            "or use --force."
        )
    blockers = restore_blockers()
    if blockers and not force:
        raise BackupError(
            "Refusing to overwrite existing data: " + "; ".join(blockers) + ". Use --force to replace it."
        )
    # Staged beside the models folder, so the final swap is a rename on one filesystem.
    staging = Path(settings.HTC_MODEL_DIR).parent / f".restore.tmp-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    warnings: list[str] = []
    try:
        _extract_verified(archive, manifest, staging, make_bar)
        databases.restore_database(staging / manifest["database"]["file"], progress=_step_bar(make_bar, vendor))
        if apps.is_installed("django.contrib.contenttypes"):
            from django.contrib.contenttypes.models import ContentType

            ContentType.objects.clear_cache()  # ids may differ in the restored database
        staged_models = staging / "models"
        staged_models.mkdir(exist_ok=True)
        fsync_tree(staged_models)
        replace_directory(staged_models, Path(settings.HTC_MODEL_DIR))
        _repoint_model_dirs(manifest.get("model_root", ""), str(settings.HTC_MODEL_DIR))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    counts = table_counts()
    wrong = {k: (v, counts.get(k)) for k, v in manifest.get("counts", {}).items() if counts.get(k) != v}
    if wrong:
        label, (want, got) = sorted(wrong.items())[0]
        raise BackupError(f"Restored row counts differ from the backup ({label}: {got} instead of {want}).")
    if manifest.get("fernet_key_fingerprint") and manifest["fernet_key_fingerprint"] != fernet_fingerprint():
        warnings.append(
            "Stored LLM API keys were encrypted with another Fernet key: copy `fernet_key` from the old data "
            "directory (or set HTC_FERNET_KEY) before starting htc, or enter the keys again."
        )
    if _pending_migrations():
        warnings.append("This htc is newer than the backup: run `python manage.py migrate`.")
    return {"manifest": manifest, "counts": counts, "warnings": warnings}


def _repoint_model_dirs(old_root: str, new_root: str) -> None:
    """Runs store their model folder's absolute path: move it to this install's models folder."""
    if not old_root or old_root == new_root or not apps.is_installed("classifiers"):
        return
    Run = apps.get_model("classifiers", "Run")
    prefix = old_root.rstrip("/") + "/"
    for run in Run.objects.filter(model_dir__startswith=prefix).only("pk", "model_dir"):
        Run.objects.filter(pk=run.pk).update(model_dir=new_root.rstrip("/") + "/" + run.model_dir[len(prefix) :])


def _unknown_migrations(recorded: dict[str, list[str]]) -> list[str]:
    """Migrations the backup's database had applied that this code does not have (for its own apps)."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    return [
        f"{app}.{name}"
        for app, names in sorted(recorded.items())
        if app in loader.migrated_apps
        for name in names
        if (app, name) not in known
    ]


def _pending_migrations() -> bool:
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
