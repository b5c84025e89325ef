"""Review decisions. Every decision is a new Correction row; earlier rows are superseded, never changed
in content, never deleted. Agreed decisions become the document's gold paths (source "correction")."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from classifiers.staleness import prediction_current_paths
from corpora.labels import gold_labels_set
from corpora.models import Document, GoldLabel
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
    return (
        Correction.objects.filter(document=document, annotator=annotator, superseded_by__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )


def _gold_paths(document: Document) -> Paths:
    from taxonomies.selectors import taxonomy_tree

    node_ids = list(GoldLabel.objects.filter(document=document).values_list("node_id", flat=True))
    if not node_ids:
        return []
    tree = taxonomy_tree(taxonomy=document.project.taxonomy)
    return [tree.path_ids(n) for n in node_ids if n in tree.nodes]


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
) -> Correction:
    """Record one review decision and return it.

    accept: the prediction's paths become the decision (the prediction must be a valid path);
    change: `after_paths` (validated against the taxonomy) become the decision;
    reject: the prediction is wrong and no replacement is given (gold is left as it is).
    The annotator's earlier current decision on the document is superseded; with `settles` (owners), every
    current decision on the document is.
    """
    if document.project_id != project.pk:
        raise ValidationError("The document belongs to another project.")
    if prediction is not None and prediction.document_id != document.pk:
        raise ValidationError("The prediction is for another document.")
    if action not in Correction.Action.values:
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
    previous = current_decision(document=document, annotator=annotator)
    before = previous.after_paths if previous else (predicted or _gold_paths(document))
    correction = Correction.objects.create(
        project=project,
        document=document,
        prediction=prediction,
        run=prediction.run if prediction else None,
        strategy=(prediction.stage or prediction.run.strategy) if prediction else "",
        predicted_paths=predicted,
        predicted_scores=list(prediction.scores) if prediction else [],
        before_paths=before,
        after_paths=after,
        before_names=_names(project, before),
        after_names=_names(project, after),
        action=action,
        annotator=annotator,
        settles=settles,
        taxonomy_version=project.taxonomy.version,
    )
    superseded = Correction.objects.filter(document=document, superseded_by__isnull=True).exclude(pk=correction.pk)
    if not settles:
        superseded = superseded.filter(annotator=annotator)
    superseded.update(superseded_by=correction)
    _sync_gold(document=document)
    return correction


@transaction.atomic
def correction_undo(*, correction: Correction, actor) -> Correction:
    """Undo the actor's current decision: a new row that restores what stood before it."""
    if correction.annotator_id != actor.pk or correction.superseded_by_id is not None:
        raise ValidationError("Only your own latest decision on a document can be undone.")
    project = correction.project
    restored = correction.before_paths
    undo = Correction.objects.create(
        project=project,
        document=correction.document,
        prediction=correction.prediction,
        run=correction.run,
        strategy=correction.strategy,
        predicted_paths=correction.predicted_paths,
        predicted_scores=correction.predicted_scores,
        before_paths=correction.after_paths,
        after_paths=restored,
        before_names=correction.after_names,
        after_names=_names(project, restored),
        action=Correction.Action.CHANGE if restored else Correction.Action.REJECT,
        annotator=actor,
        taxonomy_version=project.taxonomy.version,
    )
    Correction.objects.filter(pk=correction.pk).update(superseded_by=undo)
    _sync_gold(document=correction.document)
    return undo


def _sync_gold(*, document: Document) -> None:
    """When the current decisions on a document agree (or one settles), they become its gold paths."""
    current = list(
        Correction.objects.filter(document=document, superseded_by__isnull=True)
        .exclude(action=Correction.Action.REJECT)
        .order_by("-created_at", "-id")
    )
    if not current:
        return
    decided = {tuple(tuple(p) for p in sorted(c.after_paths)) for c in current}
    if len(decided) != 1:
        return  # a conflict: gold stays as it is until an owner settles it
    gold_labels_set(document=document, node_ids={p[-1] for p in current[0].after_paths}, source="correction")


def conflicts_for_project(*, project) -> list[dict]:
    """Documents whose current decisions (by different annotators) disagree."""
    by_doc: dict[int, list[Correction]] = {}
    rows = (
        Correction.objects.filter(project=project, superseded_by__isnull=True)
        .filter(~Q(action=Correction.Action.REJECT))
        .select_related("annotator", "document")
        .order_by("document_id", "annotator__username")
    )
    for c in rows:
        by_doc.setdefault(c.document_id, []).append(c)
    out = []
    for decisions in by_doc.values():
        if len({tuple(tuple(p) for p in sorted(c.after_paths)) for c in decisions}) > 1:
            out.append({"document": decisions[0].document, "decisions": decisions})
    return out


@transaction.atomic
def run_retrain_with_corrections(*, run, actor):
    """A new run like `run` whose training set adds every document with an agreed human decision
    (test-split documents excluded, so the evaluation stays honest); trains, predicts and evaluates it
    as a background job. Returns (new_run, job)."""
    from classifiers.services import run_child_create, run_free_name, run_job_start

    corrected = set(
        Correction.objects.filter(project=run.project, superseded_by__isnull=True)
        .exclude(action=Correction.Action.REJECT)
        .exclude(document__split="test")
        .values_list("document_id", flat=True)
    )
    if not corrected:
        raise ValidationError("No corrected documents outside the test split yet: review some predictions first.")
    new_run = run_child_create(
        parent=run,
        name=run_free_name(run.project, f"{run.name}+corrections"),
        train_document_ids=sorted(set(run.train_document_ids) | corrected),
        stats={"added_corrections": len(corrected - set(run.train_document_ids))},
        corrector=run.corrector,
        actor=actor,
    )
    return new_run, run_job_start(run=new_run, kind="pipeline", split="test", actor=actor)
