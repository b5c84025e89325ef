"""Uploads and model folders through Django's storage API: local folders by default, an S3 object store (moto in
process here; tests/prod/test_multi_machine.py runs moto's server with real worker processes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from classifiers.engine.manifest import MANIFEST_NAME, verify_manifest
from htc_app.storage import (
    READY_FILE,
    STORE_PREFIX,
    IncompleteModel,
    model_file_read,
    model_folder_local,
    model_folder_write,
)

BUCKET = "htc-test"


def s3_options(location: str) -> dict:
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "region_name": "us-east-1",
            "access_key": "testing",
            "secret_key": "testing",
            "file_overwrite": True,
            "default_acl": None,
            "location": location,
        },
    }


@pytest.fixture
def s3(settings, tmp_path, monkeypatch):
    """An in-process S3 (moto) as the uploads and models storage; yields a boto3 client on it."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        settings.STORAGES = {
            **settings.STORAGES,
            "htc_uploads": s3_options("uploads"),
            "htc_models": s3_options("models"),
        }
        settings.HTC_MODEL_CACHE_DIR = tmp_path / "cache-machine-a"
        settings.HTC_MODEL_DIR = tmp_path / "models-never-used"
        settings.HTC_UPLOAD_DIR = tmp_path / "uploads-never-used"
        yield client


def keys(client, prefix: str = "") -> list[str]:
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def write_model(name: str, files: dict[str, bytes]) -> str:
    with model_folder_write(name) as written:
        for rel, data in files.items():
            (written.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (written.path / rel).write_bytes(data)
    return written.ref


FILES = {"config.json": b'{"strategy": "tfidf"}', "corrector/tensors.safetensors": b"\x00\x01" * 1000}


# ----- local folders (the default) -----
def test_local_model_folder_appears_in_one_rename_and_the_run_keeps_its_path(settings, tmp_path):
    settings.HTC_MODEL_DIR = tmp_path / "models"
    target = tmp_path / "models" / "run-1"
    with model_folder_write("run-1") as written:
        (written.path / "config.json").write_text("{}")
        assert not target.exists() and written.path.parent == target.parent  # a sibling, renamed at the end
    assert written.ref == str(target) and (target / "config.json").read_text() == "{}"
    assert model_folder_local(written.ref) == target
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["run-1"]  # no temporary folder left


def test_local_upload_is_a_private_file_under_the_upload_dir(settings, tmp_path):
    from htc_app.storage import upload_delete, upload_open, upload_save

    settings.HTC_UPLOAD_DIR = tmp_path / "uploads"
    assert upload_save("0" * 32, SimpleUploadedFile("a.csv", b"text\nhello\n")) == 11
    stored = tmp_path / "uploads" / ("0" * 32)
    assert stored.stat().st_mode & 0o777 == 0o600
    with upload_open("0" * 32) as fh:
        assert fh.read() == b"text\nhello\n"
    upload_delete("0" * 32)
    assert not stored.exists()


# ----- the object store -----
def test_object_store_model_is_a_complete_set_under_a_new_key_with_the_manifest_last(s3):
    ref = write_model("run-7", FILES)
    assert ref.startswith(STORE_PREFIX + "run-7-")
    key = ref[len(STORE_PREFIX) :]
    # The engine's checksum manifest (classifiers/engine/manifest.py) travels with the model files.
    assert keys(s3) == sorted(f"models/{key}/{rel}" for rel in [*FILES, MANIFEST_NAME, READY_FILE])
    ready = json.loads(s3.get_object(Bucket=BUCKET, Key=f"models/{key}/{READY_FILE}")["Body"].read())
    assert sorted(ready["files"]) == sorted([*FILES, MANIFEST_NAME])
    assert ready["hash"].startswith(key.rsplit("-", 1)[1])
    # A retrained model with other content gets another key; the first stays readable meanwhile.
    other = write_model("run-7", {**FILES, "config.json": b'{"strategy": "tfidf", "C": 2}'})
    assert other != ref and model_folder_local(ref).joinpath("config.json").read_bytes() == FILES["config.json"]


def test_another_machine_downloads_the_model_once_and_reads_it_from_its_cache_by_hash(s3, settings, tmp_path):
    ref = write_model("run-8", FILES)
    settings.HTC_MODEL_CACHE_DIR = tmp_path / "cache-machine-b"  # a machine that did not write it
    assert model_file_read(ref, "config.json") == FILES["config.json"]  # one file, read without caching all
    assert not (tmp_path / "cache-machine-b").exists() or not any((tmp_path / "cache-machine-b").glob("[0-9a-f]*"))
    local = model_folder_local(ref)
    assert local.parent == tmp_path / "cache-machine-b"
    cached = {p.relative_to(local).as_posix(): p.read_bytes() for p in local.rglob("*") if p.is_file()}
    assert set(cached) == {*FILES, MANIFEST_NAME} and {rel: cached[rel] for rel in FILES} == FILES
    verify_manifest(local)  # the downloaded copy carries the checksums written when the model was saved
    key = ref[len(STORE_PREFIX) :]
    s3.delete_object(Bucket=BUCKET, Key=f"models/{key}/config.json")  # the cached copy is used from now on
    assert model_folder_local(ref) == local


def test_a_key_without_its_ready_manifest_is_refused(s3):
    s3.put_object(Bucket=BUCKET, Key="models/run-9-0123456789abcdef/config.json", Body=b"{}")
    with pytest.raises(IncompleteModel, match="not complete"):
        model_folder_local(STORE_PREFIX + "run-9-0123456789abcdef")


def test_a_file_that_does_not_match_the_manifest_is_refused_and_not_cached(s3, settings, tmp_path):
    ref = write_model("run-10", FILES)
    key = ref[len(STORE_PREFIX) :]
    s3.put_object(Bucket=BUCKET, Key=f"models/{key}/corrector/tensors.safetensors", Body=b"tampered")
    settings.HTC_MODEL_CACHE_DIR = tmp_path / "cache-machine-c"
    with pytest.raises(IncompleteModel, match="corrector/tensors.safetensors"):
        model_folder_local(ref)
    assert [p.name for p in (tmp_path / "cache-machine-c").iterdir()] == [".tmp"]
    assert list((tmp_path / "cache-machine-c" / ".tmp").iterdir()) == []


def test_a_failed_write_publishes_nothing(s3):
    with pytest.raises(RuntimeError), model_folder_write("run-11") as written:
        (written.path / "config.json").write_text("{}")
        raise RuntimeError("training crashed while saving")
    assert keys(s3) == []


@pytest.mark.slow
def test_upload_import_train_and_predict_go_through_the_object_store(
    s3, settings, tmp_path, client_for, owner, project, build_tree
):
    """The web request stores the upload in the bucket, the import job reads it, the model is trained into the
    bucket, and a machine with an empty cache predicts with it."""
    from classifiers.services import run_create, run_predict, run_train
    from corpora.jobs import run_corpus_import
    from corpora.models import Document
    from jobs.models import Job
    from tests.corpora.test_jobs import RecordingProgress

    settings.HTC_INLINE_IMPORT_BYTES = 10
    build_tree(project, {"Sci": {"Med": {}, "Space": {}}, "Arts": {}})
    rows = ["id,text,split,path"]
    words = {"Sci > Med": "aspirin dose patient", "Sci > Space": "orbit rocket planet", "Arts": "paint canvas"}
    for i in range(60):
        path = list(words)[i % 3]
        rows.append(f"d{i},{words[path]} {i},{'test' if i % 5 == 0 else 'train'},{path}")
    response = client_for(owner).post(
        reverse("corpora:upload", args=[project.pk]),
        {"file": SimpleUploadedFile("big.csv", "\n".join(rows).encode())},
    )
    assert response.status_code == 302
    job = Job.objects.get(kind="corpus_import")
    assert keys(s3, "uploads/") == [f"uploads/{job.params['upload']}"]
    assert not Path(settings.HTC_UPLOAD_DIR).exists()
    run_corpus_import(job, RecordingProgress())
    assert Document.objects.filter(project=project).count() == 60 and keys(s3, "uploads/") == []

    run = run_create(project=project, strategy="tfidf", shots=0, seed=1, name="s3-run", actor=owner)
    run_train(run=run)
    run.refresh_from_db()
    assert run.model_dir.startswith(STORE_PREFIX + f"run-{run.pk}-")
    assert f"models/{run.model_dir[len(STORE_PREFIX) :]}/{READY_FILE}" in keys(s3, "models/")
    settings.HTC_MODEL_CACHE_DIR = tmp_path / "cache-predicting-machine"
    assert run_predict(run=run, split="test") == 12
    assert any((tmp_path / "cache-predicting-machine").iterdir())
