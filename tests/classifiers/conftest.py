from __future__ import annotations

import pytest

from tests.classifiers.corpus import load_into


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    settings.HTC_MODEL_DIR = tmp_path / "models"
    return settings.HTC_MODEL_DIR


@pytest.fixture
def corpus_project(project):
    """The Demo project with the tiny 6-leaf corpus loaded (42 documents)."""
    project.nodes = load_into(project)
    return project


@pytest.fixture
def trained_run(corpus_project, owner):
    """A tfidf run trained on 2 shots per leaf, with the test split predicted and evaluated."""
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1, name="tfidf-k2", actor=owner)
    run_train(run=run)
    run_predict(run=run, split="test")
    run_evaluate(run=run, split="test")
    return run
