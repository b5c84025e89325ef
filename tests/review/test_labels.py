"""Label sources: uploaded gold is never written by review; the current label follows one documented rule;
concurrent decisions conflict; undo is an undo; test-split metrics stay frozen."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from corpora.models import GoldLabel
from review.labels import current_label
from review.models import Correction
from review.services import (
    DecisionConflict,
    conflicts_for_project,
    correction_record,
    correction_undo,
    last_decision,
)

pytestmark = pytest.mark.django_db


def gold_rows():
    return sorted(GoldLabel.objects.values_list("id", "document_id", "node_id", "source"))


def goldlabel_writes(queries) -> list[str]:
    """SQL statements of a capture that insert, update or delete corpora_goldlabel rows."""
    out = []
    for q in queries:
        sql = q["sql"].lower()
        if "corpora_goldlabel" in sql and sql.lstrip().startswith(("insert", "update", "delete")):
            out.append(q["sql"])
    return out


def test_no_review_code_path_writes_over_uploaded_gold(project, owner, make_user, add_member, reviewed_setup):
    """Accept, change, reject, undo, two annotators in conflict, adjudication and retrain: the uploaded gold
    rows are byte-for-byte what they were, and no statement even touched the table."""
    from review.services import run_retrain_with_corrections

    s = reviewed_setup
    bob = make_user("bob")
    add_member(project, bob, "annotator")
    doc0, doc1 = s["docs"][0], s["docs"][1]
    doc1.split = "train"
    doc1.save()
    GoldLabel.objects.create(document=doc1, node=s["nodes"]["Sport > Team > Football"])
    before = gold_rows()
    with CaptureQueriesContext(connection) as ctx:
        c = correction_record(
            project=project, document=doc0, annotator=owner, action="accept", prediction=s["preds"][0]
        )
        correction_record(
            project=project,
            document=doc0,
            annotator=owner,
            action="change",
            after_paths=[s["path"]("Sci > Bio > Gen")],
            prediction=s["preds"][0],
        )
        correction_undo(correction=last_decision(project=project, annotator=owner), actor=owner)
        correction_record(project=project, document=doc0, annotator=bob, action="reject", prediction=s["preds"][0])
        correction_record(project=project, document=doc1, annotator=owner, action="accept", prediction=s["preds"][1])
        correction_record(
            project=project, document=doc1, annotator=bob, action="change", after_paths=[s["path"]("Sci > Phys")]
        )
        correction_record(
            project=project,
            document=doc1,
            annotator=owner,
            action="change",
            after_paths=[s["path"]("Sci > Bio > Gen")],
            settles=True,
        )
        run_retrain_with_corrections(run=s["run"], actor=owner)
    assert goldlabel_writes(ctx.captured_queries) == []
    assert gold_rows() == before
    assert c.gold_paths == [s["path"]("Sci > Phys > Astro")]


def test_current_label_rule_adjudicated_else_agreed_annotators_else_uploaded(
    project, owner, make_user, add_member, reviewed_setup
):
    s = reviewed_setup
    bob = make_user("bob")
    add_member(project, bob, "annotator")
    doc = s["docs"][0]  # uploaded gold: Sci > Phys > Astro
    uploaded = [s["path"]("Sci > Phys > Astro")]
    assert (current_label(document=doc).paths, current_label(document=doc).source) == (uploaded, "uploaded")
    assert current_label(document=s["docs"][1]).source == ""  # nothing uploaded, nobody decided

    gen = [s["path"]("Sci > Bio > Gen")]
    correction_record(project=project, document=doc, annotator=owner, action="change", after_paths=gen)
    label = current_label(document=doc)
    assert (label.paths, label.source, label.decided_by) == (gen, "annotators", ["owner"])
    assert label.uploaded == uploaded and label.differs_from_uploaded

    correction_record(project=project, document=doc, annotator=bob, action="change", after_paths=gen)
    assert current_label(document=doc).decided_by == ["bob", "owner"]  # agreed

    quantum = [s["path"]("Sci > Phys > Quantum")]
    correction_record(project=project, document=doc, annotator=bob, action="change", after_paths=quantum)
    label = current_label(document=doc)
    assert (label.paths, label.source, label.conflict) == (uploaded, "uploaded", True)  # disagreement: uploaded

    correction_record(
        project=project, document=doc, annotator=owner, action="change", after_paths=quantum, settles=True
    )
    label = current_label(document=doc)
    assert (label.paths, label.source) == (quantum, "adjudicated")
    # A reject gives no label: the rule skips it.
    correction_record(project=project, document=doc, annotator=bob, action="reject", prediction=s["preds"][0])
    assert current_label(document=doc).source == "adjudicated"


def test_decision_records_uploaded_gold_and_current_label_as_before_not_the_prediction(project, owner, reviewed_setup):
    """Issue 19, item 1: the export's "before" used to be the prediction, so the original gold was nowhere."""
    s = reviewed_setup
    doc, pred = s["docs"][0], s["preds"][0]
    pred.paths = [s["path"]("Sport > Team > Football")]
    pred.save()
    c = correction_record(project=project, document=doc, annotator=owner, action="accept", prediction=pred)
    assert c.before_paths == [s["path"]("Sci > Phys > Astro")] and c.before_source == "uploaded"
    assert c.before_names == [["Sci", "Phys", "Astro"]]
    assert c.gold_paths == [s["path"]("Sci > Phys > Astro")]
    assert c.predicted_paths == pred.paths and c.after_paths == pred.paths
    assert c.disagrees_with_gold and c.test_split
    [conflict] = conflicts_for_project(project=project)
    assert conflict["document"] == doc  # annotator vs uploaded gold, for adjudication


def test_undo_from_the_next_document_is_recorded_as_an_undo(project, owner, reviewed_setup):
    s = reviewed_setup
    first = correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=s["preds"][1]
    )
    second = correction_record(
        project=project,
        document=s["docs"][2],
        annotator=owner,
        action="change",
        after_paths=[s["path"]("Sci > Bio")],
        prediction=s["preds"][2],
    )
    assert last_decision(project=project, annotator=owner) == second
    undo = correction_undo(correction=second, actor=owner)
    assert undo.action == "undo" and undo.undoes == second and undo.after_paths == []
    second.refresh_from_db()
    assert second.superseded_by == undo
    assert current_label(document=s["docs"][2]).source == ""  # withdrawn: nothing decided any more
    # The next `u` undoes the decision before, on the other document.
    assert last_decision(project=project, annotator=owner) == first
    with pytest.raises(ValidationError):
        correction_undo(correction=undo, actor=owner)  # an undo is not itself undone


def test_undo_restores_the_annotators_previous_decision(project, owner, reviewed_setup):
    s = reviewed_setup
    doc = s["docs"][1]
    correction_record(project=project, document=doc, annotator=owner, action="accept", prediction=s["preds"][1])
    change = correction_record(
        project=project, document=doc, annotator=owner, action="change", after_paths=[s["path"]("Sci > Phys")]
    )
    undo = correction_undo(correction=change, actor=owner)
    assert undo.after_paths == s["preds"][1].paths
    assert current_label(document=doc).paths == s["preds"][1].paths


def test_a_decision_made_against_an_old_version_is_a_conflict_not_a_silent_supersede(
    project, owner, make_user, add_member, reviewed_setup
):
    s = reviewed_setup
    bob = make_user("bob")
    add_member(project, bob, "annotator")
    doc, pred = s["docs"][1], s["preds"][1]
    first = correction_record(
        project=project, document=doc, annotator=owner, action="accept", prediction=pred, seen_version=0
    )
    # Another annotator, who opened the page before that decision.
    with pytest.raises(DecisionConflict) as exc:
        correction_record(
            project=project, document=doc, annotator=bob, action="reject", prediction=pred, seen_version=0
        )
    assert exc.value.latest == first and "owner decided" in exc.value.messages[0]
    # The same user in a second tab.
    with pytest.raises(DecisionConflict) as exc:
        correction_record(
            project=project,
            document=doc,
            annotator=owner,
            action="change",
            after_paths=[s["path"]("Sci > Phys")],
            seen_version=0,
        )
    assert "another tab" in exc.value.messages[0]
    assert Correction.objects.count() == 1
    first.refresh_from_db()
    assert first.superseded_by is None
    # Choosing "save mine over it" resubmits against the version shown with the conflict.
    mine = correction_record(
        project=project, document=doc, annotator=bob, action="reject", prediction=pred, seen_version=first.pk
    )
    assert mine.seen_version == first.pk
