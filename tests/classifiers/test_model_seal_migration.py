"""Migration classifiers 0006: model folders saved before checksum manifests get one, so they still load."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("classifiers", "0005_alter_run_state")]


@pytest.mark.django_db(transaction=True)
def test_models_saved_before_manifests_are_sealed_once_and_then_guarded(project, tmp_path):
    from classifiers.engine.manifest import MANIFEST_NAME, ModelFilesChanged, verify_manifest

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    OldRun = executor.loader.project_state(BEFORE).apps.get_model("classifiers", "Run")
    legacy = tmp_path / "run-legacy"
    (legacy / "sub").mkdir(parents=True)
    (legacy / "config.json").write_text(json.dumps({"strategy": "tfidf"}))
    (legacy / "sub" / "weights.bin").write_bytes(b"\x00\x01weights")
    OldRun.objects.create(project_id=project.pk, name="legacy", strategy="tfidf", model_dir=str(legacy))
    OldRun.objects.create(project_id=project.pk, name="gone", strategy="tfidf", model_dir=str(tmp_path / "missing"))
    with pytest.raises(ModelFilesChanged, match="manifest is missing"):
        verify_manifest(legacy)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("classifiers"))

    verify_manifest(legacy)  # sealed: loads
    assert sorted(json.loads((legacy / MANIFEST_NAME).read_text())["sha256"]) == ["config.json", "sub/weights.bin"]
    assert not (tmp_path / "missing").exists()
    (legacy / "sub" / "weights.bin").write_bytes(b"\x00\x02weights")  # a change after the upgrade is refused
    with pytest.raises(ModelFilesChanged, match="weights.bin differs"):
        verify_manifest(legacy)
