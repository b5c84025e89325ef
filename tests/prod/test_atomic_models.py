"""A model folder appears only when complete: a failed or killed save never leaves a half model that looks whole."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from classifiers.engine import base
from classifiers.engine.atomic import atomic_directory, is_partial_name
from classifiers.engine.base import HierarchicalClassifier
from classifiers.engine.hierarchy import Hierarchy

REPO = Path(__file__).resolve().parents[2]


class Tiny(HierarchicalClassifier):
    """A stand-in estimator with a little learned state (no fitting needed)."""

    strategy_name = "tiny"

    def __init__(self, value: float = 1.0):
        self.value = value

    def state_json(self):
        return {"value": self.value}

    def state_tensors(self):
        return {"weights": np.full((3, 2), self.value)}


def _tiny(value: float) -> Tiny:
    est = Tiny(value=value)
    est.hierarchy_ = Hierarchy.from_edges([(1, "A", None), (2, "B", None)])
    return est


def _fail_tensors(path, tensors):
    raise OSError("disk full")


def test_a_save_that_fails_midway_leaves_no_model(tmp_path, monkeypatch):
    target = tmp_path / "models" / "run-1"
    monkeypatch.setattr(base, "save_tensors_atomic", _fail_tensors)  # config.json is written, tensors are not
    with pytest.raises(OSError, match="disk full"):
        _tiny(2.0).save(target)
    assert not target.exists()
    assert list((tmp_path / "models").iterdir()) == []  # the temporary folder is gone too


def test_a_failed_resave_keeps_the_earlier_complete_model(tmp_path, monkeypatch):
    target = tmp_path / "run-1"
    _tiny(1.0).save(target)
    monkeypatch.setattr(base, "save_tensors_atomic", _fail_tensors)
    with pytest.raises(OSError):
        _tiny(5.0).save(target)
    monkeypatch.undo()
    config = (target / "config.json").read_text()
    assert '"value": 1.0' in config
    assert base.load_tensors(target / "tensors.safetensors")["weights"][0, 0] == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1"]


def test_a_successful_resave_replaces_the_model_in_one_step(tmp_path):
    target = tmp_path / "run-1"
    _tiny(1.0).save(target)
    _tiny(3.0).save(target)
    assert base.load_tensors(target / "tensors.safetensors")["weights"][0, 0] == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1"]


def test_a_killed_process_leaves_only_a_temporary_folder(tmp_path):
    target = tmp_path / "run-1"
    script = textwrap.dedent(
        f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        import numpy as np
        from classifiers.engine import base
        from classifiers.engine.hierarchy import Hierarchy
        from tests.prod.test_atomic_models import Tiny

        def die(path, tensors):
            os._exit(9)  # killed after config.json, before the tensors: no cleanup runs

        base.save_tensors_atomic = die
        est = Tiny(value=2.0)
        est.hierarchy_ = Hierarchy.from_edges([(1, "A", None), (2, "B", None)])
        est.save({str(target)!r})
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 9, done.stderr
    assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and is_partial_name(leftovers[0]) and (tmp_path / leftovers[0] / "config.json").exists()


def test_atomic_directory_removes_its_temporary_folder_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "x") as tmp:
            (tmp / "half").write_text("...")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_training_that_fails_while_saving_keeps_the_earlier_model(trained_run, monkeypatch):
    from classifiers.models import Run
    from classifiers.services import run_train

    model_dir = Path(trained_run.model_dir)
    before = (model_dir / "config.json").read_bytes()
    monkeypatch.setattr(base, "save_tensors_atomic", _fail_tensors)
    with pytest.raises(OSError, match="disk full"):
        run_train(run=trained_run)
    assert Run.objects.get(pk=trained_run.pk).state == Run.State.FAILED
    assert (model_dir / "config.json").read_bytes() == before
    assert [p.name for p in model_dir.parent.iterdir()] == [model_dir.name]


@pytest.mark.django_db
def test_training_with_a_corrector_that_fails_leaves_no_model(project, owner, monkeypatch):
    from django.conf import settings

    from classifiers.engine import corrector
    from classifiers.services import run_create, run_train
    from tests.classifiers.corpus import load_into

    load_into(project)
    run = run_create(project=project, strategy="tfidf", shots=2, seed=1, corrector="crf", name="crf", actor=owner)
    monkeypatch.setattr(corrector, "save_tensors_atomic", _fail_tensors)  # the strategy saved, the CRF did not
    with pytest.raises(OSError):
        run_train(run=run)
    assert not (Path(settings.HTC_MODEL_DIR) / f"run-{run.pk}").exists()
    assert list(Path(settings.HTC_MODEL_DIR).iterdir()) == []
