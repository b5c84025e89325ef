"""Evaluation records consistency before the corrector and the change against the run it retrained."""

import pytest

pytestmark = pytest.mark.django_db


def _pipeline(run):
    from classifiers.services import run_evaluate, run_predict, run_train

    run_train(run=run)
    run_predict(run=run, split="test")
    return run_evaluate(run=run, split="test").metrics


def test_crf_corrected_run_reports_consistency_before_and_after(corpus_project, owner):
    from classifiers.services import run_create

    run = run_create(
        project=corpus_project,
        strategy="tfidf",
        params={"decode": "argmax"},
        shots=1,
        seed=3,
        corrector="crf",
        name="c",
        actor=owner,
    )
    metrics = _pipeline(run)
    assert metrics["consistency"] == 1.0
    assert 0.0 <= metrics["consistency_before_correction"] <= 1.0
    assert "p_micro_f1_before_correction" in metrics and "exact_path_accuracy_before_correction" in metrics


def test_retrained_run_reports_change_against_its_parent(corpus_project, owner):
    from classifiers.models import Run
    from classifiers.services import run_create

    parent = run_create(project=corpus_project, strategy="tfidf", shots=1, seed=3, name="p", actor=owner)
    parent_metrics = _pipeline(parent)
    child = Run.objects.create(
        project=corpus_project,
        name="child",
        strategy="tfidf",
        shots=0,
        seed=3,
        parent_run=parent,
        taxonomy_version=parent.taxonomy_version,
        train_document_ids=sorted(
            set(parent.train_document_ids)
            | set(corpus_project.documents.filter(split="train").values_list("pk", flat=True))
        ),
    )
    child_metrics = _pipeline(child)
    expected = child_metrics["exact_path_accuracy"] - parent_metrics["exact_path_accuracy"]
    assert child_metrics["exact_path_accuracy_change_vs_parent"] == pytest.approx(expected)
    assert "exact_path_accuracy_change_vs_parent" not in parent_metrics
