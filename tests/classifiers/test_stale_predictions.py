"""Predictions whose labels moved or were deleted since the run are marked stale, listed on the run page and
accepted in one step in review as the path the labels have now (issue 21, item 7)."""

from __future__ import annotations

import pytest

from classifiers.models import Prediction
from classifiers.staleness import run_stale_predictions
from review.models import Correction
from review.services import correction_record
from taxonomies.services import node_delete, node_move

pytestmark = pytest.mark.django_db


def _predicted_under(run, node) -> list[Prediction]:
    return [p for p in Prediction.objects.filter(run=run) if p.paths and p.paths[0][-1] == node.pk]


def test_a_label_moved_since_the_run_makes_its_predictions_stale_and_acceptable(
    trained_run, corpus_project, owner, client
):
    football = corpus_project.nodes[("Sports", "Football")]
    food = corpus_project.nodes[("Food",)]
    affected = _predicted_under(trained_run, football)
    assert affected
    node_move(node=football, new_parent=food, actor=owner)
    count, rows = run_stale_predictions(run=trained_run)
    assert count == len(affected) and {p.pk for p, _ in rows} == {p.pk for p in affected}
    assert all(s.reason == "moved" and s.current_paths == [[food.pk, football.pk]] for _, s in rows)

    client.force_login(owner)
    page = client.get(f"/projects/{corpus_project.pk}/classifiers/runs/{trained_run.pk}/").content.decode()
    assert 'id="stale-predictions"' in page and f"Stale predictions: {count}" in page

    correction = correction_record(
        project=corpus_project, document=affected[0].document, annotator=owner, action="accept", prediction=affected[0]
    )
    assert correction.after_paths == [[food.pk, football.pk]]


def test_a_deleted_label_is_accepted_as_the_label_that_took_its_documents(trained_run, corpus_project, owner):
    tennis = corpus_project.nodes[("Sports", "Tennis")]
    football = corpus_project.nodes[("Sports", "Football")]
    affected = _predicted_under(trained_run, tennis)
    assert affected
    node_delete(node=tennis, actor=owner, reassign_to=football)
    count, rows = run_stale_predictions(run=trained_run)
    assert count >= len(affected)
    stale = dict((p.pk, s) for p, s in rows)[affected[0].pk]
    assert stale.reason == "deleted" and stale.current_paths == [[football.parent_id, football.pk]]
    correction = correction_record(
        project=corpus_project, document=affected[0].document, annotator=owner, action="accept", prediction=affected[0]
    )
    assert correction.action == Correction.Action.ACCEPT
    assert correction.after_paths == [[football.parent_id, football.pk]]
