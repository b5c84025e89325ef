"""htc_backup / htc_restore: a round trip, checksums, refusal to overwrite, consistency while the app writes.

Runs on SQLite, and on PostgreSQL (pg_dump/pg_restore) when DATABASE_URL points there (`make test-pg`)."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from htc_app.backup.manifest import table_counts, user_data_counts
from tests.prod.conftest import manage

pytestmark = pytest.mark.django_db(transaction=True)


def _snapshot(run) -> dict:
    """What must survive a round trip: row counts, documents, predictions, and the model's answers."""
    from classifiers.engine import registry
    from classifiers.models import Prediction
    from corpora.models import Document

    texts = list(Document.objects.order_by("pk").values_list("text", flat=True)[:10])
    return {
        "counts": table_counts(),
        "documents": list(Document.objects.order_by("pk").values_list("pk", "external_id", "text", "split")),
        "predictions": list(Prediction.objects.order_by("pk").values_list("document_id", "paths", "scores")),
        "answers": registry.load_estimator(run.model_dir).predict(texts),
    }


def _wipe() -> None:
    call_command("flush", interactive=False, verbosity=0)
    shutil.rmtree(settings.HTC_MODEL_DIR, ignore_errors=True)
    assert user_data_counts() == {}


def test_round_trip_restores_database_and_models(trained_run, tmp_path, capsys):
    from classifiers.models import Run

    before = _snapshot(trained_run)
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive))
    assert "Backup written" in capsys.readouterr().out

    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())
    assert manifest["format"] == "htc-backup" and manifest["htc_version"] == "0.1.0"
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["counts"] == before["counts"] and manifest["counts"]["corpora.document"] == 42
    assert manifest["model_count"] == 1
    listed = {e["path"] for e in manifest["files"]}
    assert listed == set(names) - {"manifest.json"}
    assert f"models/run-{trained_run.pk}/config.json" in listed

    _wipe()
    call_command("htc_restore", str(archive))
    assert "Restored" in capsys.readouterr().out
    run = Run.objects.get(pk=trained_run.pk)
    assert Path(run.model_dir).is_dir()
    after = _snapshot(run)
    assert after == before
    from projects.models import Project

    # Sequences came back too: new rows do not collide with restored ids.
    assert Project.objects.create(name="after the restore").pk > run.project_id


def test_restore_refuses_a_non_empty_database_without_force(trained_run, tmp_path):
    from projects.models import Project

    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    Project.objects.create(name="made after the backup")
    with pytest.raises(CommandError, match="Refusing to overwrite existing data: the database is not empty"):
        call_command("htc_restore", str(archive), verbosity=0)
    assert Project.objects.filter(name="made after the backup").exists()  # untouched

    call_command("htc_restore", str(archive), "--force", verbosity=0)
    assert not Project.objects.filter(name="made after the backup").exists()
    assert Project.objects.filter(pk=trained_run.project_id).exists()


def test_restore_refuses_existing_model_files_without_force(trained_run, tmp_path):
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    model_dir = Path(trained_run.model_dir)
    call_command("flush", interactive=False, verbosity=0)
    assert model_dir.is_dir()
    with pytest.raises(CommandError, match="already holds model files"):
        call_command("htc_restore", str(archive), verbosity=0)


def _corrupt(archive: Path, member_prefix: str) -> str:
    """Flip one byte in the data of the first member whose name starts with `member_prefix`."""
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(member_prefix) and m.size > 10)
    with open(archive, "r+b") as fh:
        fh.seek(member.offset_data + member.size // 2)
        byte = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([byte[0] ^ 0xFF]))
    return member.name


@pytest.mark.parametrize("member", ["database/", "models/"])
def test_a_corrupted_archive_is_detected_and_changes_nothing(trained_run, tmp_path, member):
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    name = _corrupt(archive, member)
    _wipe()
    with pytest.raises(CommandError, match=f"Checksum mismatch for {name}"):
        call_command("htc_restore", str(archive), verbosity=0)
    assert user_data_counts() == {}
    assert not Path(settings.HTC_MODEL_DIR).exists()
    assert not list(Path(settings.HTC_MODEL_DIR).parent.glob(".restore.tmp-*"))  # staging removed


def test_a_truncated_or_foreign_file_is_refused(trained_run, tmp_path):
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    data = archive.read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[: len(data) // 2])
    (tmp_path / "other.tar").write_bytes(b"not a tar file at all" * 100)
    _wipe()
    for bad in ("cut.tar", "other.tar"):
        with pytest.raises(CommandError, match="cannot be read|not an htc backup|damaged"):
            call_command("htc_restore", str(tmp_path / bad), verbosity=0)
    assert user_data_counts() == {}


def test_backup_skips_model_folders_that_are_still_being_written(trained_run, tmp_path):
    partial = Path(settings.HTC_MODEL_DIR) / "run-999.tmp-0123abcd"
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    with tarfile.open(archive) as tar:
        assert not [n for n in tar.getnames() if "run-999" in n]
    assert not list(tmp_path.glob("backup.tar.tmp-*"))  # the archive itself appeared in one rename


def test_backup_refuses_to_overwrite_an_existing_archive(tmp_path):
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"keep me")
    with pytest.raises(CommandError, match="already exists"):
        call_command("htc_backup", str(archive), verbosity=0)
    assert archive.read_bytes() == b"keep me"


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite online backup path")
def test_sqlite_backup_is_a_consistent_snapshot_while_the_app_writes(project, tmp_path, monkeypatch):
    from htc_app.backup import databases
    from projects.models import Project

    monkeypatch.setattr(databases, "SQLITE_STEP_PAGES", 4)  # many steps, with writes between them
    before = Project.objects.count()
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) <= 5:  # the app keeps committing while the backup runs (WAL: it is not blocked)
            Project.objects.create(name=f"written during backup {len(calls)}")

    dump = tmp_path / "copy.sqlite3"
    databases.dump_database(dump, progress=progress)
    assert Project.objects.count() == before + 5
    import sqlite3

    with sqlite3.connect(dump) as copy:
        rows = copy.execute("SELECT COUNT(*) FROM projects_project").fetchone()[0]
    assert rows == before  # the copy is the snapshot of the moment the backup began
    assert len(calls) == calls[-1] // 4 + (calls[-1] % 4 > 0)  # one pass: no restarts


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "sqlite", reason="a second SQLite data directory")
def test_restore_into_a_brand_new_data_directory(trained_run, tmp_path):
    archive = tmp_path / "backup.tar"
    call_command("htc_backup", str(archive), verbosity=0)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    done = manage("htc_restore", str(archive), data_dir=fresh)
    assert done.returncode == 0, done.stderr
    show = (
        "from classifiers.models import Run; from corpora.models import Document; from pathlib import Path; "
        f"r = Run.objects.get(pk={trained_run.pk}); "
        "print(Document.objects.count(), r.model_dir, Path(r.model_dir, 'config.json').is_file())"
    )
    done = manage("shell", "-c", show, data_dir=fresh)
    assert done.returncode == 0, done.stderr
    count, model_dir, exists = done.stdout.strip().splitlines()[-1].split()
    assert count == "42" and exists == "True"
    assert model_dir == str(fresh / "models" / f"run-{trained_run.pk}")  # repointed to the new install


def _insert_group_elsewhere(name: str) -> None:
    """Commit a row through a connection of its own, as another process of the app would."""
    sd = connection.settings_dict
    if connection.vendor == "sqlite":
        import sqlite3

        with sqlite3.connect(sd["NAME"], timeout=5) as other:
            other.execute("INSERT INTO auth_group (name) VALUES (?)", (name,))
    else:
        import psycopg

        params = {"dbname": sd["NAME"], "user": sd["USER"], "host": sd["HOST"], "port": sd["PORT"] or 5432}
        with psycopg.connect(password=sd["PASSWORD"] or None, **params) as other:
            other.execute("INSERT INTO auth_group (name) VALUES (%s)", (name,))


def test_writes_during_the_backup_are_left_out_and_the_counts_match_the_dump(trained_run, tmp_path):
    from django.contrib.auth.models import Group

    from htc_app.backup import backup_create, backup_restore

    Group.objects.create(name="before")
    written = []

    def make_bar(desc, total, unit):
        if desc == "Database" and not written:  # the dump has started: its snapshot is taken
            _insert_group_elsewhere("during")
            written.append(desc)
        return lambda n: None

    archive = tmp_path / "backup.tar"
    manifest = backup_create(output=archive, make_bar=make_bar)
    assert written and Group.objects.count() == 2  # the app was not blocked
    assert manifest["counts"]["auth.group"] == 1  # counted in the dumped snapshot, not before or after it
    backup_restore(archive=archive, force=True)  # checks the restored counts against the manifest
    assert list(Group.objects.values_list("name", flat=True)) == ["before"]
