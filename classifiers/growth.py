"""Update a trained run for new labels (after a split or new sub-labels) instead of training from scratch.

The new run starts from its parent's model: only the sibling groups whose children changed are refitted,
on the documents now labelled with a new node (outside the test split) plus a rehearsal sample of the
parent's training documents. Its stats record which documents were new and which rehearsal, and a
forgetting report: accuracy on untouched old labels before (parent) and after (new run) on the test split,
and accuracy on the new labels.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction

from classifiers.adapters import (
    gold_paths_for,
    hierarchy_for_taxonomy,
    node_ids_of,
    run_hierarchy,
    texts_and_paths,
)
from classifiers.engine import registry
from classifiers.engine.baselines import ROOT
from classifiers.engine.growth import changed_groups, forgetting_figures, rehearsal_sample, update_for_new_labels
from classifiers.engine.hierarchy import Hierarchy, as_multi
from classifiers.models import Evaluation, Prediction, Run
from classifiers.predicting import run_load_model
from classifiers.services import ProgressFn, run_child_create, run_free_name, run_job_start
from corpora.models import Document, Split
from htc_app.storage import model_folder_write

#: HierVerb fine-tunes its warm-started model for this many epochs unless told otherwise.
DEFAULT_UPDATE_EPOCHS = 2


def growth_refusal(strategy: str) -> str | None:
    """Why a run of `strategy` cannot be updated for new labels, or None when it can (its `supports_growth`)."""
    if strategy in registry.STRATEGIES and registry.capabilities(strategy).supports_growth:
        return None
    return (
        f"Updating a run for new labels is not implemented for the {strategy!r} strategy of this run. "
        "Train a new run on the current taxonomy instead."
    )


def taxonomy_delta(old: Hierarchy, new: Hierarchy) -> dict:
    """What changed between a run's hierarchy and the current one, by node id:
    {"new_labels": [...], "changed_parents": [... (None = the top level)]}."""
    return {
        "new_labels": sorted(set(new.ids) - set(old.ids)),
        "changed_parents": [None if p == ROOT else int(new.ids[p]) for p in changed_groups(old, new)],
    }


def _new_label_documents(project, new_labels: set[int], hierarchy: Hierarchy) -> list[int]:
    """Documents outside the test split whose gold path goes through a new label (on it or below it)."""
    if not new_labels:
        return []
    ids = sorted(
        Document.objects.filter(project=project, gold_labels__isnull=False)
        .exclude(split=Split.TEST)
        .distinct()
        .values_list("id", flat=True)
    )
    paths = gold_paths_for(ids, hierarchy)
    return [
        pk
        for pk, doc_paths in zip(ids, paths, strict=True)
        if any(hierarchy.ids[v] in new_labels for p in doc_paths for v in p)
    ]


@transaction.atomic
def run_update_create(
    *, parent: Run, name: str = "", rehearsal: float = 0.3, epochs: int = DEFAULT_UPDATE_EPOCHS, actor=None
) -> Run:
    """A new run that updates `parent`'s model for the labels added since it was trained; returns it untrained.

    Its training documents are the documents on new labels (outside the test split) plus a `rehearsal`
    fraction (0..1) of the parent's training documents, both recorded in `stats["growth"]`; `epochs` is how
    long HierVerb fine-tunes (the local classifiers ignore it). Refuses other strategies, an untrained
    parent, a taxonomy without new labels and new labels without documents."""
    refusal = growth_refusal(parent.strategy)
    if refusal:
        raise ValidationError(refusal)
    if parent.state != Run.State.TRAINED or not parent.model_dir:
        raise ValidationError(f"Run {parent.name!r} is not trained: train it before updating it.")
    try:
        rehearsal = float(rehearsal)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"rehearsal": "The rehearsal share is a number between 0 and 1."}) from exc
    if not 0.0 <= rehearsal <= 1.0:
        raise ValidationError({"rehearsal": "The rehearsal share is a number between 0 and 1."})
    if not isinstance(epochs, int) or not 1 <= epochs <= 50:
        raise ValidationError({"epochs": "Fine-tuning epochs are a whole number from 1 to 50."})
    project = parent.project
    name = (name or "").strip() or run_free_name(project, f"{parent.name}+new-labels")
    try:
        old_h = run_hierarchy(parent)
    except FileNotFoundError as exc:
        raise ValidationError(
            f"The model files of run {parent.name!r} are missing: train it again before updating it."
        ) from exc
    new_h = hierarchy_for_taxonomy(project.taxonomy)
    delta = taxonomy_delta(old_h, new_h)
    if not delta["new_labels"]:
        raise ValidationError(
            f"The taxonomy has no labels that run {parent.name!r} does not know: nothing to update. "
            "Split a label or add sub-labels first."
        )
    new_ids = _new_label_documents(project, set(delta["new_labels"]), new_h)
    if not new_ids:
        raise ValidationError(
            "No documents outside the test split carry the new labels yet: decide the review task "
            "“which child?” (Review page) first."
        )
    new_set = set(new_ids)
    candidates = [pk for pk in parent.train_document_ids if pk not in new_set]
    old_paths = gold_paths_for(candidates, old_h)
    pool = [pk for pk, paths in zip(candidates, old_paths, strict=True) if paths]
    rehearsal_ids = [pool[i] for i in rehearsal_sample(len(pool), rehearsal, parent.seed)]
    return run_child_create(
        parent=parent,
        name=name,
        train_document_ids=sorted(new_set | set(rehearsal_ids)),
        stats={
            "growth": {
                **delta,
                "rehearsal": rehearsal,
                "epochs": epochs,
                "rehearsal_pool": len(pool),
                "new_document_ids": new_ids,
                "rehearsal_document_ids": sorted(rehearsal_ids),
            }
        },
        actor=actor,
    )


@transaction.atomic
def run_update_start(*, parent: Run, actor, **update_fields) -> tuple[Run, object]:
    """Create the update run (`run_update_create`'s fields) and queue its job (update, predict and evaluate the
    test split): what the run page and `POST .../runs/<id>/update/` both do. Returns (run, job)."""
    run = run_update_create(parent=parent, actor=actor, **update_fields)
    return run, run_job_start(run=run, kind="update_labels", split="test", actor=actor)


def _save_model(run: Run, estimator) -> str:
    """Save the model as `run-<id>` in the model storage, published only when complete; returns Run.model_dir."""
    with model_folder_write(f"run-{run.pk}") as written:
        estimator.save(written.path)
    return written.ref


def _first_ids(paths: Sequence, hierarchy: Hierarchy) -> list[list[int]]:
    return [node_ids_of(p[0], hierarchy) if p else [] for p in as_multi(paths)]


def forgetting_report_for(*, old_estimator, new_estimator, delta: dict, project) -> dict:
    """Accuracy on the test split before (the parent's model) and after (the updated model): on documents whose
    gold is on untouched labels, and on documents whose gold is on a new label (see engine.growth)."""
    ids = sorted(
        Document.objects.filter(project=project, split=Split.TEST, gold_labels__isnull=False)
        .distinct()
        .values_list("id", flat=True)
    )
    new_h = new_estimator.hierarchy_
    texts, gold_paths = texts_and_paths(ids, new_h)
    gold = [node_ids_of(p[0], new_h) if p else [] for p in gold_paths]
    new_labels = set(delta["new_labels"])
    touched = new_labels | {p for p in delta["changed_parents"] if p is not None}
    old_h = old_estimator.hierarchy_
    old_known = set(old_h.ids)
    old_mask = [bool(g) and not (set(g) & touched) and set(g) <= old_known for g in gold]
    new_mask = [bool(set(g) & new_labels) for g in gold]
    if texts:
        before = _first_ids(old_estimator.predict(texts), old_h)
        after = _first_ids(new_estimator.predict(texts), new_h)
    else:
        before = after = []
    return {"split": Split.TEST.value, **forgetting_figures(gold, before, after, old_mask, new_mask)}


def run_update_train(*, run: Run, progress: ProgressFn = None) -> Run:
    """Build `run`'s model from its parent's (engine growth update), save it and store the forgetting report
    in `stats["growth"]["forgetting"]`; `progress` follows the refitted groups (or HierVerb's steps)."""
    parent = run.parent_run
    growth = dict(run.stats.get("growth") or {})
    if parent is None or not growth:
        raise ValidationError(f"Run {run.name!r} is not an update of another run.")
    refusal = growth_refusal(parent.strategy)
    if refusal:
        raise ValidationError(refusal)
    Run.objects.filter(pk=run.pk).update(state=Run.State.TRAINING)
    try:
        taxonomy = run.project.taxonomy
        taxonomy.refresh_from_db(fields=["version"])
        old_h, new_h = run_hierarchy(parent), hierarchy_for_taxonomy(taxonomy)
        delta = taxonomy_delta(old_h, new_h)
        texts_new, paths_new = texts_and_paths(growth["new_document_ids"], new_h)
        texts_old, paths_old = texts_and_paths(growth["rehearsal_document_ids"], old_h)
        started = time.perf_counter()
        old_estimator = run_load_model(parent)
        estimator = update_for_new_labels(
            old_estimator,
            new_h,
            texts_new,
            paths_new,
            texts_old,
            paths_old,
            rehearsal=1.0,
            seed=run.seed,
            epochs=int(growth.get("epochs") or DEFAULT_UPDATE_EPOCHS),
            progress=progress,
        )
        seconds = time.perf_counter() - started
        model_dir = _save_model(run, estimator)
        report = forgetting_report_for(
            old_estimator=old_estimator, new_estimator=estimator, delta=delta, project=run.project
        )
    except BaseException as exc:
        from jobs.progress import JobCancelled

        Run.objects.filter(pk=run.pk).update(
            state=Run.State.CANCELLED if isinstance(exc, JobCancelled) else Run.State.FAILED
        )
        raise
    with transaction.atomic():
        Prediction.objects.filter(run=run).delete()
        Evaluation.objects.filter(run=run).delete()
        run.model_dir = model_dir
        run.train_seconds = seconds
        run.state = Run.State.TRAINED
        run.taxonomy_version = taxonomy.version
        growth.update(delta)
        growth["updated_groups"] = [
            None if p == ROOT else int(new_h.ids[p]) for p in getattr(estimator, "updated_groups_", [])
        ]
        growth["forgetting"] = report
        run.stats = {
            **run.stats,
            "growth": growth,
            "train_documents": len(texts_new) + len(texts_old),
            "new_documents": len(texts_new),
            "rehearsal_documents": len(texts_old),
        }
        run.save(update_fields=["model_dir", "train_seconds", "state", "taxonomy_version", "stats"])
    return run


__all__ = ["growth_refusal", "run_update_create", "run_update_start", "run_update_train", "taxonomy_delta"]
