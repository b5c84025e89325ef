"""Use cases of classifier configurations and runs: create, train, evaluate (prediction: `classifiers.predicting`).

No strategy is named here: what differs between strategies is asked of their hooks
(`classifiers.strategies.strategy_hooks`) and of their engine class's capabilities; conversions between rows
and the engine live in `classifiers.adapters`.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path as FsPath
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from classifiers.adapters import (
    MULTIPATH_FILE,
    SPLITS,
    corrector_class,
    documents_for,
    gold_paths_for,
    hierarchy_for_taxonomy,
    json_number,
    path_of,
    run_hierarchy,
    texts_and_paths,
)
from classifiers.engine import registry
from classifiers.engine.base import Cancelled
from classifiers.engine.hierarchy import Hierarchy, Path
from classifiers.models import ClassifierConfig, Evaluation, Prediction, Run
from classifiers.predicting import run_predict
from classifiers.selectors import run_job_refusal
from classifiers.strategies import strategy_hooks
from corpora.models import Document, Split
from htc_app.storage import model_folder_discard, model_folder_write
from jobs.progress import JobCancelled

ProgressFn = Callable[[int, int], None] | None

CORRECTORS = ("", "crf")


# ----- parameters -----
def parse_params(lines: Iterable[str]) -> dict[str, Any]:
    """KEY=VALUE strings as a dict; values parsed as JSON when possible (numbers, lists), else kept as strings."""
    params: dict[str, Any] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ValidationError({"params": f"Expected KEY=VALUE, got {line!r}."})
        value = value.strip()
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _validate_run_fields(*, strategy: str, shots: int, corrector: str) -> None:
    errors: dict[str, str] = {}
    if strategy not in registry.STRATEGIES:
        errors["strategy"] = f"Unknown strategy {strategy!r}; known: {', '.join(sorted(registry.STRATEGIES))}."
    if shots < 0:
        errors["shots"] = "Shots must be 0 (the whole training split) or more."
    if corrector not in CORRECTORS:
        errors["corrector"] = f"Unknown corrector {corrector!r}; use '' or 'crf'."
    if errors:
        raise ValidationError(errors)


# ----- configurations and runs -----
@transaction.atomic
def config_create(
    *,
    project,
    name: str,
    strategy: str,
    params: dict | None = None,
    shots: int = 0,
    seed: int = 550,
    corrector: str = "",
    actor=None,
) -> ClassifierConfig:
    """Save a named classifier configuration for a project; returns it."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A configuration needs a name."})
    _validate_run_fields(strategy=strategy, shots=shots, corrector=corrector)
    _refuse_endpoint_params(params or {})
    params = strategy_hooks(strategy).clean_params(params or {}, corrector=corrector)
    if ClassifierConfig.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"A configuration named {name!r} already exists."})
    return ClassifierConfig.objects.create(
        project=project,
        name=name,
        strategy=strategy,
        params=params or {},
        shots=shots,
        seed=seed,
        corrector=corrector,
        created_by=actor,
    )


def _labelled_split(project, split: str, hierarchy: Hierarchy) -> tuple[list[int], list[list[Path]]]:
    """Ids and gold paths of the documents of a split that carry at least one gold path."""
    ids = list(
        Document.objects.filter(project=project, split=split, gold_labels__isnull=False, generated=False)
        .distinct()
        .order_by("id")
        .values_list("id", flat=True)
    )
    paths = gold_paths_for(ids, hierarchy)
    keep = [k for k, p in enumerate(paths) if p]
    return [ids[k] for k in keep], [paths[k] for k in keep]


def _sample(ids: list[int], paths: list[list[Path]], shots: int, seed: int) -> list[int]:
    from classifiers.engine.fewshot import sample_few_shot

    if not ids:
        return []
    return sorted(ids[k] for k in sample_few_shot(paths, shots, seed))


@transaction.atomic
def run_create(
    *,
    project,
    strategy: str,
    params: dict | None = None,
    shots: int = 0,
    seed: int = 550,
    corrector: str = "",
    name: str = "",
    actor=None,
    config: ClassifierConfig | None = None,
) -> Run:
    """A new run pinned to the current taxonomy version, with its sampled training (and dev) document ids."""
    _validate_run_fields(strategy=strategy, shots=shots, corrector=corrector)
    _refuse_endpoint_params(params or {})
    hooks = strategy_hooks(strategy)
    params = hooks.clean_params(params or {}, corrector=corrector)
    name = (name or "").strip() or run_free_name(project, f"{strategy}-k{shots or 'all'}-s{seed}")
    if Run.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"A run named {name!r} already exists in this project."})
    taxonomy = project.taxonomy
    hierarchy = hierarchy_for_taxonomy(taxonomy)
    if not len(hierarchy):
        raise ValidationError("The taxonomy is empty: add labels before training.")
    train_sample = hooks.training_ids(project)
    dev_sample: list[int] = []
    if train_sample is None:
        train_ids, train_paths = _labelled_split(project, Split.TRAIN, hierarchy)
        if not train_ids and not hooks.training_free(params):
            raise ValidationError("No labelled documents in the train split.")
        dev_ids, dev_paths = _labelled_split(project, Split.DEV, hierarchy)
        train_sample = _sample(train_ids, train_paths, shots, seed)
        dev_sample = _sample(dev_ids, dev_paths, shots, seed)
    return Run.objects.create(
        project=project,
        config=config,
        name=name,
        strategy=strategy,
        params=params or {},
        shots=shots,
        seed=seed,
        corrector=corrector,
        taxonomy_version=taxonomy.version,
        train_document_ids=train_sample,
        dev_document_ids=dev_sample,
        created_by=actor,
    )


ENDPOINT_PARAMS = frozenset({"base_url", "api_key", "allowed_hosts"})
SERVER_PATH_PARAMS = frozenset({"encoder_path", "model_path", "cache_dir", "model_dir"})


def _refuse_endpoint_params(params: object) -> None:
    """Where an LLM call goes is the project's endpoint, which only owners set. A run parameter naming a URL,
    a key or an allow-list (also inside a cascade stage's params) would let anyone who starts a run send the
    project's documents to a host of their choosing, so it is refused. So are paths on the server (models
    to load, caches to write): the operator sets those (HTC_ENCODER_PATH, HTC_EMBEDDING_MODEL_PATH)."""
    stack = [params]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            named = sorted(ENDPOINT_PARAMS & set(item))
            if named:
                raise ValidationError(
                    {"params": f"{named[0]} cannot be a run parameter: owners set the LLM endpoint of the project."}
                )
            paths = sorted(SERVER_PATH_PARAMS & set(item))
            if paths:
                raise ValidationError(
                    {"params": f"{paths[0]} cannot be a run parameter: the operator sets model and cache paths."}
                )
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def run_free_name(project, base: str) -> str:
    """`base`, else `base-2`, `base-3`, ...: the first name no run of the project has (the one naming rule)."""
    taken = set(Run.objects.filter(project=project, name__startswith=base).values_list("name", flat=True))
    return base if base not in taken else next(f"{base}-{n}" for n in itertools.count(2) if f"{base}-{n}" not in taken)


@transaction.atomic
def run_child_create(
    *, parent: Run, name: str, train_document_ids: list[int], stats: dict, actor, corrector: str = ""
) -> Run:
    """A new untrained run derived from `parent` (same configuration, strategy, params, shots, seed and dev
    documents) on the current taxonomy version, learning from `train_document_ids`; returns it. Used by
    growth (update for new labels) and review (retrain with corrections)."""
    project = parent.project
    if Run.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": f"A run named {name!r} already exists in this project."})
    return Run.objects.create(
        project=project,
        config=parent.config,
        name=name,
        strategy=parent.strategy,
        params=parent.params,
        shots=parent.shots,
        seed=parent.seed,
        corrector=corrector,
        taxonomy_version=project.taxonomy.version,
        train_document_ids=sorted(train_document_ids),
        dev_document_ids=parent.dev_document_ids,
        parent_run=parent,
        stats=stats,
        created_by=actor,
    )


def run_trains_on_reviewed_labels(run: Run) -> bool:
    """Whether the run trains on the reviewed labels (a "retrain with corrections" run) instead of uploaded gold."""
    return (run.stats or {}).get("labels") == "reviewed"


def run_train(*, run: Run, progress: ProgressFn = None) -> Run:
    """Fit the run's strategy on its sampled documents and save the model as `run-<id>` in the model storage.

    The model is published only when complete (htc_app/storage.py: one rename, or a READY manifest written
    last in an object store). Returns the run."""
    Run.objects.filter(pk=run.pk).update(state=Run.State.TRAINING)
    try:
        taxonomy = run.project.taxonomy
        taxonomy.refresh_from_db(fields=["version"])
        hierarchy = hierarchy_for_taxonomy(taxonomy)
        # A "retrain with corrections" run learns the reviewed labels; every other run the uploaded gold.
        reviewed = run.project if run_trains_on_reviewed_labels(run) else None
        doc_ids, texts, paths = documents_for(run.train_document_ids, hierarchy, reviewed_project=reviewed)
        dev = (
            texts_and_paths(run.dev_document_ids, hierarchy, reviewed_project=reviewed)
            if run.dev_document_ids
            else None
        )
        started = time.perf_counter()
        hooks = strategy_hooks(run.strategy)
        estimator = registry.make_strategy(run.strategy, **hooks.estimator_params(run.params, hierarchy))
        paths = hooks.prepare_fit(run=run, estimator=estimator, doc_ids=doc_ids, paths=paths)
        estimator.fit(texts, paths, hierarchy, dev=dev, progress=progress)
        # The whole folder (model + corrector) is published at once, replacing an earlier model only then.
        with model_folder_write(f"run-{run.pk}") as written:
            estimator.save(written.path)
            if run.corrector == "crf":
                # The strategy is over-confident on its own training documents: fit on dev when there is one.
                fit_texts, fit_paths = dev if dev and dev[0] else (texts, paths)
                _fit_corrector(estimator, fit_texts, fit_paths, hierarchy).save(written.path / "corrector")
            multipath = _fit_multipath(run, estimator, texts, paths, dev, hierarchy, written.path)
            seconds = time.perf_counter() - started
    except BaseException as exc:
        # Stopped on request is not a failure: the run says "cancelled", or stays trained on its earlier model.
        state = Run.State.FAILED
        if isinstance(exc, JobCancelled | Cancelled):
            state = Run.State.TRAINED if run.model_dir else Run.State.CANCELLED
        Run.objects.filter(pk=run.pk).update(state=state)
        if isinstance(exc, Cancelled):  # the engine's own cancel (a cancel check said stop)
            raise JobCancelled(f"Training of run {run.name!r} was cancelled") from None
        raise
    had_model = bool(run.model_dir)
    try:
        with transaction.atomic():
            # A new model makes earlier predictions and evaluations of this run stale.
            Prediction.objects.filter(run=run).delete()
            Evaluation.objects.filter(run=run).delete()
            run.model_dir = written.ref
            run.train_seconds = seconds
            run.state = Run.State.TRAINED
            run.taxonomy_version = taxonomy.version  # the tree the model actually learned
            run.stats = {**run.stats, "train_documents": len(texts), "dev_documents": len(dev[0]) if dev else 0}
            device = estimator_device(estimator)
            if device:
                run.stats["device"] = device  # shown on the run page
            if multipath is not None:
                run.stats["multipath"] = multipath
            run.stats.update(hooks.after_fit(run=run, estimator=estimator, doc_ids=doc_ids, hierarchy=hierarchy))
            run.save(update_fields=["model_dir", "train_seconds", "state", "taxonomy_version", "stats"])
    except BaseException:
        # The model was published but the run could not say so (a full disk, a read-only database): a first
        # model is removed again, so no folder is left that no run names; an earlier model's run stays usable.
        if not had_model:
            model_folder_discard(written.ref)
        state = Run.State.TRAINED if had_model else Run.State.FAILED
        Run.objects.filter(pk=run.pk, state=Run.State.TRAINING).update(state=state)
        raise
    return run


def estimator_device(estimator) -> str | None:
    """The device a fitted estimator ran on ("cpu", "cuda", ...), looking into a weak run's base strategy."""
    for candidate in (estimator, getattr(estimator, "estimator_", None)):
        device = getattr(candidate, "device_", None) if candidate is not None else None
        if device:
            return str(device)
    return None


#: What an evaluation scores against: the uploaded gold as frozen (default), or the reviewed labels.
EVALUATION_LABELS = ("uploaded", "reviewed")


def run_job_start(*, run: Run, kind: str, split: str, actor, labels: str = "uploaded"):
    """Queue a job on `run` (train, predict, evaluate, pipeline, update_labels) for the pages and the API.

    The job's params name only the run, the split and (evaluations against reviewed labels) the labels;
    returns the Job row (dispatched on commit). A job that cannot work on the run now (predicting a run that
    keeps no model, evaluating one without predictions; `selectors.run_possible_jobs`, the run page's rule too)
    is refused with a ValidationError on `kind`, and so is any job while another one on the run is queued or
    running."""
    from jobs.selectors import job_active_for
    from jobs.services import job_start

    refusal = run_job_refusal(run, kind)
    if refusal is not None:
        raise ValidationError({"kind": refusal})
    busy = job_active_for(target_type="run", target_id=run.pk)
    if busy is not None:  # two jobs on one run would repeat (or undo) each other's work
        raise ValidationError(
            {
                "kind": f"Job #{busy.pk} ({busy.kind}) on this run is still {busy.get_state_display().lower()}; "
                "wait for it to finish or cancel it."
            }
        )
    if labels not in EVALUATION_LABELS:
        raise ValidationError({"labels": f"Unknown labels {labels!r}; use one of {', '.join(EVALUATION_LABELS)}."})
    params = {"run_id": run.pk, "split": split}
    if labels != "uploaded":
        params["labels"] = labels
    return job_start(
        kind=kind,
        project=run.project,
        params=params,
        created_by=actor,
        target_type="run",
        target_id=run.pk,
    )


@transaction.atomic
def run_start(*, project, split: str, actor, **run_fields) -> tuple[Run, Any]:
    """Create a run (`run_create`'s fields) and queue its pipeline job (train, predict `split`, evaluate): what the
    run form and `POST /api/v1/projects/<id>/runs/` both do. Returns (run, job)."""
    run = run_create(project=project, actor=actor, **run_fields)
    return run, run_job_start(run=run, kind="pipeline", split=split, actor=actor)


def _fit_multipath(run: Run, estimator, texts, paths, dev, hierarchy: Hierarchy, directory: FsPath) -> dict | None:
    """On a multi-path project, fit the path threshold of a strategy whose scores are a distribution over paths
    (`fits_path_threshold`) on dev (else on the training documents) and write it beside the model; returns what
    Run.stats["multipath"] shows (None otherwise)."""
    from classifiers.engine.multipath import fit_selector

    if not run.project.multi_path or getattr(estimator, "multi_label", False):
        return None  # hierverb with multi_label=True chooses its own paths
    if not estimator.fits_path_threshold:
        return None  # decided per stage (cascade) or by the LLM's answer, not by a distribution over paths
    fit_texts, fit_paths, on = (dev[0], dev[1], "dev") if dev and dev[0] else (texts, paths, "train")
    selector = fit_selector(estimator, fit_texts, fit_paths, hierarchy)
    (directory / MULTIPATH_FILE).write_text(json.dumps(selector.to_dict()))
    return json.loads(json.dumps({**selector.report, "fitted_on": on}, default=json_number))


def _fit_corrector(estimator, texts: list[str], paths: list[list[Path]], hierarchy: Hierarchy):
    corrector = corrector_class()()
    scores = estimator.predict_scores(texts)
    corrector.fit(scores, [p[0] if p else () for p in paths], hierarchy)
    return corrector


@transaction.atomic
def run_evaluate(*, run: Run, split: str, labels: str = "uploaded") -> Evaluation:
    """Score the run's stored predictions on a split; upserts and returns the Evaluation.

    `labels` "uploaded" (default) scores against the uploaded gold, which review never changes, so reviewing
    documents does not move the figures of an unchanged run; "reviewed" scores against each document's current
    label (review/labels.py: adjudicated, else agreed annotators, else uploaded gold). The evaluation records
    which (`metrics["labels"]`) and how many documents had a reviewed label (`metrics["reviewed_documents"]`)."""
    from classifiers.engine.metrics import evaluate

    if split not in SPLITS:
        raise ValidationError({"split": f"Unknown split {split!r}."})
    if labels not in EVALUATION_LABELS:
        raise ValidationError({"labels": f"Unknown labels {labels!r}; use one of {', '.join(EVALUATION_LABELS)}."})
    if not run.model_dir:
        raise ValidationError("This run has not been trained.")
    hierarchy = run_hierarchy(run)
    # LLM-written examples are training material, never evaluated on.
    rows = Prediction.objects.filter(run=run, document__generated=False)
    if split != "all":
        rows = rows.filter(document__split=split)
    reviewed_ids: set[int] = set()
    if labels == "reviewed":
        from review.labels import reviewed_label_ids

        reviewed_ids = set(
            reviewed_label_ids(project=run.project, document_ids=list(rows.values_list("document_id", flat=True)))
        )
        rows = rows.filter(Q(document__gold_labels__isnull=False) | Q(document_id__in=reviewed_ids))
    else:
        rows = rows.filter(document__gold_labels__isnull=False)
    rows = list(rows.distinct().order_by("document_id").values_list("document_id", "paths", "raw_paths"))
    if not rows:
        raise ValidationError(f"No predictions with gold labels on the {split} split: predict it first.")
    gold = gold_paths_for(
        [doc_id for doc_id, _, _ in rows],
        hierarchy,
        reviewed_project=run.project if labels == "reviewed" else None,
    )

    def as_paths(id_paths):
        return [p for p in (path_of(ids, hierarchy) for ids in id_paths) if p is not None]

    pred = [as_paths(paths) for _, paths, _ in rows]
    metrics = _json_safe(evaluate(gold, pred, hierarchy), hierarchy)
    if run.corrector:
        # What the strategy said before the corrector changed it (raw_paths is kept only where it changed).
        before = [as_paths(raw or paths) for _, paths, raw in rows]
        raw_metrics = evaluate(gold, before, hierarchy)
        for key in ("consistency", "p_micro_f1", "exact_path_accuracy"):
            metrics[f"{key}_before_correction"] = float(raw_metrics[key])
    metrics["labels"] = labels
    metrics["reviewed_documents"] = len(reviewed_ids & {doc_id for doc_id, _, _ in rows})
    parent = Evaluation.objects.filter(run_id=run.parent_run_id, split=split).first() if run.parent_run_id else None
    if parent is not None and parent.metrics.get("labels", "uploaded") == labels:
        for key in ("exact_path_accuracy", "micro_f1", "macro_f1"):
            if key in parent.metrics:
                metrics[f"{key}_change_vs_parent"] = float(metrics[key]) - float(parent.metrics[key])
    evaluation, _ = Evaluation.objects.update_or_create(
        run=run, split=split, defaults={"metrics": metrics, "document_count": len(rows)}
    )
    return evaluation


def _json_safe(metrics: dict, hierarchy: Hierarchy) -> dict:
    """Metrics as JSON: per-label F1 keyed by node id (not engine index), numpy numbers as floats."""
    out = json.loads(json.dumps(metrics, default=json_number))
    per_label = metrics.get("per_label")
    if isinstance(per_label, dict):
        out["per_label"] = {str(hierarchy.ids[int(k)]): float(v) for k, v in per_label.items()}
    return out


__all__ = [
    "EVALUATION_LABELS",
    "config_create",
    "run_child_create",
    "run_free_name",
    "parse_params",
    "run_create",
    "run_evaluate",
    "run_job_start",
    "run_predict",
    "run_start",
    "run_train",
]
