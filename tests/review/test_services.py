"""Corrections: provenance, supersession (nothing overwritten), the current label, undo and conflicts.

`current` is the document's current label (review.labels); the uploaded gold (GoldLabel) never changes."""

import pytest
from django.core.exceptions import ValidationError

from corpora.models import GoldLabel
from review.models import Correction
from review.services import conflicts_for_project, correction_record, correction_undo

pytestmark = pytest.mark.django_db


def gold_of(doc):
    return set(GoldLabel.objects.filter(document=doc).values_list("node_id", flat=True))


def current(doc):
    from review.labels import current_label

    return {p[-1] for p in current_label(document=doc).paths}


def test_accept_records_prediction_provenance_and_sets_the_current_label(project, owner, reviewed_setup):
    s = reviewed_setup
    pred = s["preds"][1]
    c = correction_record(project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=pred)
    assert c.action == "accept" and c.run == s["run"] and c.strategy == "tfidf"
    assert c.predicted_paths == pred.paths and c.after_paths == pred.paths
    assert c.before_paths == [] and c.before_source == ""  # nothing uploaded or decided before
    assert c.after_names == [["Sci", "Bio", "Gen"]]
    assert current(s["docs"][1]) == {s["nodes"]["Sci > Bio > Gen"].pk}
    assert not GoldLabel.objects.filter(document=s["docs"][1]).exists()  # uploaded gold untouched


def test_later_decision_supersedes_earlier_and_both_remain(project, owner, reviewed_setup):
    s = reviewed_setup
    doc, pred = s["docs"][1], s["preds"][1]
    first = correction_record(project=project, document=doc, annotator=owner, action="accept", prediction=pred)
    second = correction_record(
        project=project,
        document=doc,
        annotator=owner,
        action="change",
        prediction=pred,
        after_paths=[s["path"]("Sci > Phys")],
    )
    first.refresh_from_db()
    assert first.superseded_by == second and second.superseded_by is None
    assert second.before_paths == first.after_paths
    assert Correction.objects.filter(document=doc).count() == 2
    # Stopping at an internal node is allowed by default.
    assert current(doc) == {s["nodes"]["Sci > Phys"].pk}


def test_change_to_an_invalid_path_is_refused(project, owner, reviewed_setup):
    s = reviewed_setup
    bad = [s["nodes"]["Sport"].pk, s["nodes"]["Sci > Phys"].pk]
    with pytest.raises(ValidationError):
        correction_record(project=project, document=s["docs"][1], annotator=owner, action="change", after_paths=[bad])
    assert not Correction.objects.exists()


def test_accepting_an_invalid_prediction_is_refused(project, owner, reviewed_setup):
    s = reviewed_setup
    with pytest.raises(ValidationError):
        correction_record(
            project=project, document=s["docs"][3], annotator=owner, action="accept", prediction=s["preds"][3]
        )


def test_reject_keeps_gold(project, owner, reviewed_setup):
    s = reviewed_setup
    doc = s["docs"][0]
    before = gold_of(doc)
    c = correction_record(project=project, document=doc, annotator=owner, action="reject", prediction=s["preds"][0])
    assert c.after_paths == [] and gold_of(doc) == before and current(doc) == before


def test_undo_restores_what_stood_before(project, owner, reviewed_setup):
    s = reviewed_setup
    doc, pred = s["docs"][0], s["preds"][0]
    c = correction_record(
        project=project,
        document=doc,
        annotator=owner,
        action="change",
        prediction=pred,
        after_paths=[s["path"]("Sport > Team")],
    )
    assert current(doc) == {s["nodes"]["Sport > Team"].pk}
    undo = correction_undo(correction=c, actor=owner)
    c.refresh_from_db()
    assert c.superseded_by == undo
    assert undo.action == "undo" and undo.after_paths == []  # withdrawn: the uploaded gold stands again
    assert current(doc) == gold_of(doc) == {s["nodes"]["Sci > Phys > Astro"].pk}


def test_two_annotators_conflict_until_an_owner_settles(project, owner, make_user, add_member, reviewed_setup):
    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    doc, pred = s["docs"][1], s["preds"][1]
    correction_record(project=project, document=doc, annotator=ann, action="accept", prediction=pred)
    correction_record(
        project=project,
        document=doc,
        annotator=owner,
        action="change",
        prediction=pred,
        after_paths=[s["path"]("Sci > Phys > Quantum")],
    )
    conflicts = conflicts_for_project(project=project)
    assert [c["document"] for c in conflicts] == [doc]
    assert current(doc) == set()  # a conflict and nothing uploaded: no current label until adjudicated
    correction_record(
        project=project,
        document=doc,
        annotator=owner,
        action="change",
        prediction=pred,
        after_paths=[s["path"]("Sci > Phys > Quantum")],
        settles=True,
    )
    assert conflicts_for_project(project=project) == []
    assert current(doc) == {s["nodes"]["Sci > Phys > Quantum"].pk}
    assert gold_of(doc) == set()
    assert Correction.objects.filter(document=doc).count() == 3


def test_retrain_with_corrections_adds_corrected_non_test_documents(project, owner, reviewed_setup):
    from jobs.models import Job
    from review.services import run_retrain_with_corrections

    s = reviewed_setup
    s["docs"][1].split = "train"
    s["docs"][1].save()
    s["run"].train_document_ids = [s["docs"][2].pk]
    s["run"].save()
    correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=s["preds"][1]
    )
    correction_record(
        project=project, document=s["docs"][0], annotator=owner, action="accept", prediction=s["preds"][0]
    )
    new_run, job = run_retrain_with_corrections(run=s["run"], actor=owner)
    assert new_run.parent_run == s["run"] and new_run.strategy == s["run"].strategy
    # docs[0] and docs[2] are in the test split: never trained on, even when the parent run listed one.
    assert new_run.train_document_ids == [s["docs"][1].pk]
    assert new_run.stats["labels"] == "reviewed"
    assert job.kind == "pipeline" and job.params == {"run_id": new_run.pk, "split": "test"}
    assert Job.objects.filter(pk=job.pk, state="queued").exists()


def test_retrain_without_corrections_is_refused(project, owner, reviewed_setup):
    from review.services import run_retrain_with_corrections

    with pytest.raises(ValidationError):
        run_retrain_with_corrections(run=reviewed_setup["run"], actor=owner)
