"""Fixtures for the production-profile, proxy and backup tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.classifiers.corpus import load_into

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    settings.HTC_MODEL_DIR = tmp_path / "models"
    return settings.HTC_MODEL_DIR


@pytest.fixture
def trained_run(project, owner):
    """A tfidf run trained and predicted on the tiny 42-document corpus (fast)."""
    from classifiers.services import run_create, run_predict, run_train

    project.nodes = load_into(project)
    run = run_create(project=project, strategy="tfidf", shots=2, seed=1, name="tfidf-k2", actor=owner)
    run_train(run=run)
    run_predict(run=run, split="test")
    run.refresh_from_db()
    return run


def manage(*args: str, env: dict[str, str] | None = None, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    """Run manage.py in a subprocess with a clean htc environment plus `env`; returns the finished process."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HTC_", "DJANGO_"))}
    base.update({"DATABASE_URL": "", "REDIS_URL": "", "HTC_TASKS_BACKEND": "immediate"})
    if data_dir is not None:
        base["HTC_DATA_DIR"] = str(data_dir)
    base.update(env or {})
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        cwd=REPO,
        env=base,
        capture_output=True,
        text=True,
        timeout=300,
    )
