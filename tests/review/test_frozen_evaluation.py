"""Test-split evaluation uses the uploaded gold as frozen; retraining uses reviewed labels, never test docs."""

from __future__ import annotations

import time

import pytest

from tests.classifiers.corpus import load_into

pytestmark = pytest.mark.django_db


@pytest.fixture
def trained(project, owner, settings, tmp_path):
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    settings.HTC_MODEL_DIR = tmp_path / "models"
    project.nodes = load_into(project)
    run = run_create(project=project, strategy="tfidf", shots=2, seed=1, name="tfidf-k2", actor=owner)
    run_train(run=run)
    run_predict(run=run, split="test")
    run_evaluate(run=run, split="test")
    return run


def _decide_every_test_document_as_predicted(run, owner):
    """What the issue's reviewer did: press `a` on every test prediction, right or wrong."""
    from review.services import correction_record

    for p in run.predictions.filter(document__split="test").select_related("document"):
        if p.valid and p.paths:
            correction_record(project=run.project, document=p.document, annotator=owner, action="accept", prediction=p)


def test_test_split_metrics_of_an_unchanged_run_do_not_move_when_test_documents_are_reviewed(trained, owner):
    from classifiers.services import run_evaluate

    before = run_evaluate(run=trained, split="test")
    # Make some predictions wrong on purpose, so accepting them would change the figures if gold moved.
    wrong = trained.predictions.filter(document__split="test").order_by("document_id")[:4]
    other = trained.project.nodes[("Food", "Baking")].pk
    for p in wrong:
        p.paths = [[trained.project.nodes[("Food",)].pk, other]]
        p.save()
    before = run_evaluate(run=trained, split="test")
    _decide_every_test_document_as_predicted(trained, owner)
    after = run_evaluate(run=trained, split="test")
    assert after.document_count == before.document_count
    for key in ("exact_path_accuracy", "micro_f1", "macro_f1", "h_f1"):
        assert after.metrics[key] == before.metrics[key], key
    assert after.metrics["labels"] == "uploaded" and after.metrics["reviewed_documents"] == 0

    # Asked for explicitly, the reviewed labels (here: every prediction accepted) give a perfect score.
    reviewed = run_evaluate(run=trained, split="test", labels="reviewed")
    assert reviewed.metrics["labels"] == "reviewed"
    assert reviewed.metrics["reviewed_documents"] == reviewed.document_count
    assert reviewed.metrics["exact_path_accuracy"] == 1.0 > before.metrics["exact_path_accuracy"]


def test_retrain_trains_on_reviewed_labels_never_on_test_documents(trained, owner):
    from classifiers.engine.hierarchy import Hierarchy  # noqa: F401  (the engine is importable without Django)
    from classifiers.services import gold_paths_for, hierarchy_for_taxonomy
    from corpora.models import Document
    from review.services import correction_record, run_retrain_with_corrections

    project = trained.project
    _decide_every_test_document_as_predicted(trained, owner)
    # A training document outside the run's sample, relabelled by a reviewer.
    doc = Document.objects.filter(project=project, split="train").exclude(pk__in=trained.train_document_ids).first()
    new_path = [project.nodes[("Science",)].pk, project.nodes[("Science", "Physics")].pk]
    correction_record(project=project, document=doc, annotator=owner, action="change", after_paths=[new_path])
    new_run, job = run_retrain_with_corrections(run=trained, actor=owner)
    test_ids = set(Document.objects.filter(project=project, split="test").values_list("id", flat=True))
    assert not test_ids & set(new_run.train_document_ids)
    assert doc.pk in new_run.train_document_ids
    assert (new_run.strategy, new_run.params, new_run.shots, new_run.seed, new_run.corrector) == (
        trained.strategy,
        trained.params,
        trained.shots,
        trained.seed,
        trained.corrector,
    )
    assert new_run.stats["labels"] == "reviewed" and new_run.stats["reviewed_labels"] == 1
    hierarchy = hierarchy_for_taxonomy(project.taxonomy)
    [uploaded] = gold_paths_for([doc.pk], hierarchy)
    [reviewed] = gold_paths_for([doc.pk], hierarchy, reviewed_project=project)
    assert reviewed == [tuple(hierarchy.index[n] for n in new_path)] and reviewed != uploaded


def test_retrain_is_not_slower_than_a_fresh_run_of_the_same_strategy(trained, owner):
    """Retrain trains the same strategy with the same parameters on (sample + reviewed documents): its training
    time stays within a tolerance of a fresh run on that same training set (issue 19: 32 s against 2.6 s)."""
    from classifiers.models import Run
    from classifiers.services import run_train
    from corpora.models import Document
    from review.services import correction_record, run_retrain_with_corrections

    project = trained.project
    for doc in Document.objects.filter(project=project, split="train").exclude(pk__in=trained.train_document_ids)[:6]:
        correction_record(
            project=project,
            document=doc,
            annotator=owner,
            action="change",
            after_paths=[[project.nodes[("Sports",)].pk, project.nodes[("Sports", "Tennis")].pk]],
        )
    retrain, _ = run_retrain_with_corrections(run=trained, actor=owner)
    fresh = Run.objects.create(
        project=project,
        name="fresh",
        strategy=trained.strategy,
        params=trained.params,
        shots=trained.shots,
        seed=trained.seed,
        train_document_ids=retrain.train_document_ids,
        dev_document_ids=retrain.dev_document_ids,
    )
    started = time.perf_counter()
    run_train(run=fresh)
    fresh_wall = time.perf_counter() - started
    started = time.perf_counter()
    run_train(run=retrain)
    retrain_wall = time.perf_counter() - started
    fresh.refresh_from_db()
    retrain.refresh_from_db()
    assert retrain.stats["train_documents"] == fresh.stats["train_documents"]
    # A generous tolerance (shared CI machines): three times the fresh run, plus one second.
    assert retrain_wall <= 3 * fresh_wall + 1.0, (retrain_wall, fresh_wall)
    assert retrain.train_seconds <= 3 * fresh.train_seconds + 1.0
