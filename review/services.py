"""Review decisions. Every decision is a new Correction row; earlier rows are superseded, never changed
in content, never deleted. Nothing here writes the uploaded gold (corpora.GoldLabel): the document's current
label is derived from the decisions by review.labels.current_label."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from classifiers.staleness import prediction_current_paths
from corpora.models import Document
from htc_app.params import id_param
from review.models import Correction
from taxonomies.models import Node

Paths = list[list[int]]


def _validate_paths(*, project, paths: Paths) -> Paths:
    """Each path must follow parent links from a top-level label of this project's taxonomy."""
    if not isinstance(paths, list) or any(not isinstance(p, list) or not p for p in paths):
        raise ValidationError("A decision needs one or more non-empty paths.")
    if len(paths) > 1 and not project.multi_path:
        raise ValidationError("This project allows one path per document.")
    # Label ids are whole numbers as the picker sends them: no booleans, floats, strings or 30-digit numbers
    # (int() would read True as 1 and 1.5 as 1; an id past 64 bits overflows the database column).
    if any(id_param(i) != i for p in paths for i in p):
        raise ValidationError("A path is a list of label ids (whole numbers).")
    ids = {int(i) for p in paths for i in p}
    nodes = {n.pk: n for n in Node.objects.filter(taxonomy=project.taxonomy, pk__in=ids)}
    cleaned: Paths = []
    for path in paths:
        path = [int(i) for i in path]
        missing = [i for i in path if i not in nodes]
        if missing:
            raise ValidationError(f"Unknown labels: {missing}.")
        if nodes[path[0]].parent_id is not None:
            raise ValidationError(f"The path must start at a top-level label, not {nodes[path[0]].name!r}.")
        for parent, child in zip(path, path[1:], strict=False):
            if nodes[child].parent_id != parent:
                raise ValidationError(f"{nodes[child].name!r} is not a child of {nodes[parent].name!r}.")
        last = nodes[path[-1]]
        if not project.allow_internal_labels and Node.objects.filter(parent=last).exists():
            raise ValidationError(f"{last.name!r} has children: choose down to a leaf.")
        if path not in cleaned:
            cleaned.append(path)
    return cleaned


def _names(project, paths: Paths) -> list[list[str]]:
    ids = {i for p in paths for i in p}
    names = dict(Node.objects.filter(taxonomy=project.taxonomy, pk__in=ids).values_list("pk", "name"))
    return [[names.get(i, f"#{i}") for i in p] for p in paths]


def current_decision(*, document: Document, annotator) -> Correction | None:
    """The annotator's current (not superseded) decision on the document, or None."""
    return (
        Correction.objects.filter(document=document, annotator=annotator, superseded_by__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )


def last_decision(*, project, annotator) -> Correction | None:
    """The annotator's newest decision in the project that can still be undone (current, not itself an undo),
    on any document: what `u` undoes, also from the next document."""
    return (
        Correction.objects.filter(project=project, annotator=annotator, superseded_by__isnull=True)
        .exclude(action=Correction.Action.UNDO)
        .select_related("document")
        .order_by("-created_at", "-id")
        .first()
    )


class DecisionConflict(ValidationError):
    """Someone (another annotator, or the same one in another tab) decided on the document after the version
    the submission was made against. Nothing was saved; `latest` is the decision that came in between."""

    def __init__(self, latest: Correction, *, same_user: bool):
        who = "You (in another tab or window)" if same_user else latest.annotator.username
        paths = " | ".join(" > ".join(p) for p in latest.after_names) or "no label"
        super().__init__(
            f"{who} decided on this document since you opened it ({latest.action}: {paths}). "
            "Your decision was not saved: keep theirs, or save yours over it."
        )
        self.latest = latest


@transaction.atomic
def correction_record(
    *,
    project,
    document: Document,
    annotator,
    action: str,
    after_paths: Paths | None = None,
    prediction=None,
    settles: bool = False,
    seen_version: int | None = None,
) -> Correction:
    """Record one review decision and return it. The uploaded gold (corpora.GoldLabel) is never written.

    accept: the prediction's paths become the decision (the prediction must be a valid path);
    change: `after_paths` (validated against the taxonomy) become the decision;
    reject: the prediction is wrong and no replacement is given (the current label is left as it is).
    The annotator's earlier current decision on the document is superseded; with `settles` (owners: an
    adjudication), every current decision on the document is. `before_paths`/`before_source` record the
    document's current label before the decision, `gold_paths` the uploaded gold; a decision that differs from
    the uploaded gold is marked `disagrees_with_gold` (listed for adjudication). With `seen_version` (the
    document's review version the reviewer saw), a decision made since raises DecisionConflict.
    """
    from review.labels import current_label, document_review_version, norm

    if document.project_id != project.pk:
        raise ValidationError("The document belongs to another project.")
    if prediction is not None and prediction.document_id != document.pk:
        raise ValidationError("The prediction is for another document.")
    if action not in (Correction.Action.ACCEPT, Correction.Action.CHANGE, Correction.Action.REJECT):
        raise ValidationError(f"Unknown action {action!r}.")
    predicted = [list(p) for p in (prediction.paths if prediction else [])]
    if action == Correction.Action.ACCEPT:
        if prediction is None:
            raise ValidationError("There is no prediction to accept.")
        if not prediction.valid or not predicted:
            raise ValidationError("This prediction is not a valid path: correct it instead.")
        stale = prediction_current_paths(prediction=prediction)
        if stale is not None and stale.current_paths is None:
            raise ValidationError("A label of this prediction was deleted and none took its place: correct it instead.")
        # Labels moved or replaced since the run: accepting means the path those labels have now.
        after = _validate_paths(project=project, paths=stale.current_paths if stale is not None else predicted)
    elif action == Correction.Action.CHANGE:
        after = _validate_paths(project=project, paths=after_paths or [])
    else:
        after = []
    # One decision at a time per document: the row lock (a write lock on SQLite) orders concurrent submits.
    Document.objects.select_for_update().filter(pk=document.pk).first()
    version = document_review_version(document=document)
    if seen_version is not None and version != seen_version:
        latest = Correction.objects.select_related("annotator").get(pk=version)
        raise DecisionConflict(latest, same_user=latest.annotator_id == annotator.pk)
    label = current_label(document=document)
    correction = Correction.objects.create(
        project=project,
        document=document,
        prediction=prediction,
        run=prediction.run if prediction else None,
        strategy=(prediction.stage or prediction.run.strategy) if prediction else "",
        predicted_paths=predicted,
        predicted_scores=list(prediction.scores) if prediction else [],
        before_paths=label.paths,
        before_source=label.source,
        gold_paths=label.uploaded,
        disagrees_with_gold=bool(after) and bool(label.uploaded) and norm(after) != norm(label.uploaded),
        test_split=document.split == "test",
        after_paths=after,
        before_names=_names(project, label.paths),
        after_names=_names(project, after),
        action=action,
        annotator=annotator,
        settles=settles,
        seen_version=seen_version,
        taxonomy_version=project.taxonomy.version,
    )
    superseded = Correction.objects.filter(document=document, superseded_by__isnull=True).exclude(pk=correction.pk)
    if not settles:
        superseded = superseded.filter(annotator=annotator)
    superseded.update(superseded_by=correction)
    return correction


@transaction.atomic
def correction_undo(*, correction: Correction, actor) -> Correction:
    """Undo the actor's current decision (on any document): a new row of action "undo" that withdraws it and
    restores the actor's own previous decision on that document, if there was one. Returns the undo row."""
    from review.labels import current_label

    if (
        correction.annotator_id != actor.pk
        or correction.superseded_by_id is not None
        or correction.action == Correction.Action.UNDO
    ):
        raise ValidationError("Only your own latest decision on a document can be undone.")
    project = correction.project
    previous = (
        Correction.objects.filter(superseded_by=correction, annotator=actor, document=correction.document)
        .order_by("-id")
        .first()
    )
    restored = previous.after_paths if previous is not None else []
    label = current_label(document=correction.document)
    undo = Correction.objects.create(
        project=project,
        document=correction.document,
        prediction=correction.prediction,
        run=correction.run,
        strategy=correction.strategy,
        predicted_paths=correction.predicted_paths,
        predicted_scores=correction.predicted_scores,
        before_paths=label.paths,
        before_source=label.source,
        gold_paths=label.uploaded,
        disagrees_with_gold=previous.disagrees_with_gold if previous is not None else False,
        test_split=correction.document.split == "test",
        after_paths=restored,
        before_names=_names(project, label.paths),
        after_names=_names(project, restored),
        action=Correction.Action.UNDO,
        annotator=actor,
        settles=previous.settles if previous is not None else False,
        undoes=correction,
        taxonomy_version=project.taxonomy.version,
    )
    Correction.objects.filter(pk=correction.pk).update(superseded_by=undo)
    return undo


def conflicts_for_project(*, project) -> list[dict]:
    """Documents to adjudicate: their current decisions disagree with each other (different annotators) or with
    the uploaded gold, and no adjudication settled them. Each: {"document", "decisions", "label"} where `label`
    is the document's CurrentLabel (uploaded gold included)."""
    from review.labels import ADJUDICATED, current_labels, gives_label, norm

    docs = set(
        Correction.objects.filter(project=project, superseded_by__isnull=True).values_list("document_id", flat=True)
    )
    labels = current_labels(project=project, document_ids=sorted(docs))
    out = []
    documents = Document.objects.in_bulk(sorted(docs))
    for doc_id in sorted(docs):
        label = labels[doc_id]
        if label.source == ADJUDICATED:
            continue
        decisions = [c for c in label.decisions if gives_label(c)]
        if not decisions:
            continue
        distinct = {norm(c.after_paths) for c in decisions}
        if len(distinct) > 1 or (label.uploaded and distinct != {norm(label.uploaded)}):
            out.append({"document": documents[doc_id], "decisions": decisions, "label": label})
    return out


@transaction.atomic
def run_retrain_with_corrections(*, run, actor):
    """A new run like `run` (same strategy, parameters, shots, seed and corrector) that trains on the reviewed
    labels: every document outside the test split whose current label comes from review (agreed annotators or
    adjudicated) is added to the training set and trains with that label instead of the uploaded gold. Test
    documents never train, whatever their decisions. Trains, predicts and evaluates it (against the uploaded
    gold of the test split, as frozen) as a background job. Returns (new_run, job)."""
    from classifiers.services import run_child_create, run_free_name, run_job_start
    from review.labels import reviewed_label_ids

    decided = (
        Correction.objects.filter(project=run.project, superseded_by__isnull=True)
        .exclude(document__split="test")
        .values_list("document_id", flat=True)
        .distinct()
    )
    corrected = set(reviewed_label_ids(project=run.project, document_ids=list(decided)))
    if not corrected:
        raise ValidationError(
            "No reviewed documents outside the test split yet. Runs predict the test split, whose decisions never "
            "train a model: use “Review training documents” on the run page to predict and review the train split "
            "first."
        )
    test_ids = set(Document.objects.filter(project=run.project, split="test").values_list("id", flat=True))
    new_run = run_child_create(
        parent=run,
        name=run_free_name(run.project, f"{run.name}+corrections"),
        train_document_ids=sorted((set(run.train_document_ids) | corrected) - test_ids),
        stats={
            "labels": "reviewed",
            "added_corrections": len(corrected - set(run.train_document_ids)),
            "reviewed_labels": len(corrected),
        },
        corrector=run.corrector,
        actor=actor,
    )
    return new_run, run_job_start(run=new_run, kind="pipeline", split="test", actor=actor)


def run_review_training_documents(*, run, actor):
    """Make the train split of a trained run reviewable: start a job that predicts the run on the train-split
    documents it has not predicted yet. Returns that job (or the one already running), or None when every
    train-split document already has a prediction of the run."""
    from classifiers.selectors import run_jobs
    from classifiers.services import run_job_start

    if not run.model_dir:
        raise ValidationError("This run has not been trained yet: wait for its training job to finish.")
    train = Document.objects.filter(project=run.project, split="train", generated=False)
    if not train.exists():
        raise ValidationError("This project has no documents in the train split.")
    if not train.exclude(predictions__run=run).exists():
        return None
    for job in run_jobs(run=run)[:20]:
        if job.is_active and job.kind == "predict" and job.params.get("split") == "train":
            return job
    return run_job_start(run=run, kind="predict", split="train", actor=actor)
