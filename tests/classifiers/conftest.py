from __future__ import annotations

import pytest

from jobs.models import Job
from jobs.progress import PhasedProgress, Progress
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


@pytest.fixture
def reports(monkeypatch) -> list[tuple[int, int, str]]:
    """Every progress report of the jobs run in the test: (done, total, message)."""
    seen: list[tuple[int, int, str]] = []
    notify = Progress._notify

    def record(self) -> None:
        seen.append((self.done, self.total, self.message))
        notify(self)

    monkeypatch.setattr(Progress, "_notify", record)
    return seen


def assert_phased(job: Job, seen: list[tuple[int, int, str]], keys: list[str]) -> list[str]:
    """The job ended with these phases, on the one 0-1000 scale, never going back; returns the messages."""
    assert job.state == Job.State.SUCCEEDED, job.error
    assert [p["key"] for p in job.phases] == keys
    assert seen and {total for _, total, _ in seen} == {PhasedProgress.SCALE}
    done = [d for d, _, _ in seen]
    assert done == sorted(done), "the bar went backwards"
    # Every report once the first phase started (the first one only sets the scale) says what is being done.
    assert all(message for _, _, message in seen[1:]), "a report without a message"
    return [message for _, _, message in seen]
