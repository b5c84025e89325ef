"""Reads for runs, predictions and the metrics dashboard."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import mean

from django.db.models import Count, Prefetch, QuerySet

from classifiers.models import Evaluation, Prediction, Run
from htc_app.bidi import isolate
from jobs.models import Job

#: Scalar metric keys in display order; any other scalar key an evaluation carries follows them.
METRIC_ORDER = [
    "micro_f1",
    "macro_f1",
    "c_micro_f1",
    "c_macro_f1",
    "p_micro_f1",
    "p_macro_f1",
    "p_micro_f1_raw",
    "p_macro_f1_raw",
    "p_penalty",
    "h_precision",
    "h_recall",
    "h_f1",
    "exact_path_accuracy",
    "consistency",
    "coverage",
    "consistency_before_correction",
    "p_micro_f1_before_correction",
    "exact_path_accuracy_before_correction",
    "exact_path_accuracy_change_vs_parent",
    "micro_f1_change_vs_parent",
    "macro_f1_change_vs_parent",
    "n_predicted",
    "n_documents",
]
METRIC_LABELS = {
    "micro_f1": "Micro-F1",
    "macro_f1": "Macro-F1",
    "c_micro_f1": "C-Micro-F1",
    "c_macro_f1": "C-Macro-F1",
    "p_micro_f1": "P-Micro-F1",
    "p_macro_f1": "P-Macro-F1",
    "p_micro_f1_raw": "P-Micro-F1 (no penalty)",
    "p_macro_f1_raw": "P-Macro-F1 (no penalty)",
    "p_penalty": "P stray-label penalty",
    "h_precision": "hP",
    "h_recall": "hR",
    "h_f1": "hF",
    "exact_path_accuracy": "Exact path accuracy",
    "consistency": "Consistency (of documents with a prediction)",
    "coverage": "Coverage (documents with a prediction)",
    "n_predicted": "Documents with a prediction",
    "consistency_before_correction": "Consistency before the corrector",
    "p_micro_f1_before_correction": "P-Micro-F1 before the corrector",
    "exact_path_accuracy_before_correction": "Exact path accuracy before the corrector",
    "exact_path_accuracy_change_vs_parent": "Exact path accuracy change vs the run it retrained",
    "micro_f1_change_vs_parent": "Micro-F1 change vs the run it retrained",
    "macro_f1_change_vs_parent": "Macro-F1 change vs the run it retrained",
    "n_documents": "Documents",
}
SKIP_KEYS = {"per_level", "per_label"}


def run_list_for_project(*, project, state: str | None = None) -> QuerySet[Run]:
    """The project's runs (newest first; in `state` when given) with their prediction counts, creators and
    evaluations (by split) loaded: what the runs page and the API's run list and detail show."""
    runs = (
        Run.objects.filter(project=project)
        .select_related("created_by")
        .annotate(prediction_count=Count("predictions"))
        .prefetch_related(Prefetch("evaluations", queryset=Evaluation.objects.order_by("split")))
        .order_by("-created_at", "-id")  # Meta.ordering does not apply to an aggregated query
    )
    return runs.filter(state=state) if state else runs


def run_latest_evaluation(run: Run, split: str | None = None) -> Evaluation | None:
    """The run's evaluation on `split` (when None: test, else the newest), from prefetched rows when available."""
    evaluations = list(run.evaluations.all())
    if split is not None:
        return next((e for e in evaluations if e.split == split), None)
    newest = max(evaluations, key=lambda e: (e.created_at, e.pk), default=None)
    return next((e for e in evaluations if e.split == "test"), newest)


def run_jobs(*, run: Run) -> QuerySet[Job]:
    """Jobs started for a run, newest first."""
    return Job.objects.filter(project_id=run.project_id, target_type="run", target_id=run.pk).order_by(
        "-created_at", "-id"
    )


def prediction_list(
    *,
    run: Run,
    consistent: bool | None = None,
    valid: bool | None = None,
    split: str | None = None,
    document: int | None = None,
    stage: str | None = None,
    order: str = "document",
) -> QuerySet[Prediction]:
    """A run's predictions with their documents (without text), filtered by whichever argument is given; by
    document, or lowest margin first (the API orders the result by its own allow-list)."""
    filters = {"consistent": consistent, "valid": valid, "document__split": split, "document_id": document}
    rows = (
        Prediction.objects.filter(run=run, **{k: v for k, v in filters.items() if v is not None})
        .select_related("document")
        .defer("document__text", "document__meta")
    )
    if stage:
        rows = rows.filter(stage=stage)
    return rows.order_by("margin", "id") if order == "margin" else rows.order_by("document_id")


def metric_keys(evaluations: list[Evaluation]) -> list[str]:
    """Every scalar metric key of these evaluations, known keys first."""
    seen: set[str] = set()
    for evaluation in evaluations:
        seen.update(k for k, v in evaluation.metrics.items() if k not in SKIP_KEYS and isinstance(v, (int, float)))
    return [k for k in METRIC_ORDER if k in seen] + sorted(seen - set(METRIC_ORDER))


#: What an evaluation of a run that predicted nothing still says truly: how many documents, none predicted.
COUNT_KEYS = {"n_documents", "n_predicted", "coverage"}


def evaluation_predicted_nothing(evaluation: Evaluation | None) -> bool:
    """Whether no document of the evaluation got a prediction: its scores are not measurements (all 0)."""
    return evaluation is not None and evaluation.metrics.get("n_predicted") == 0


def comparison_table(runs: list[Run], split: str) -> dict:
    """Runs side by side: {"runs": [...], "rows": [(label, [value per run])], "level_rows": [...],
    "predicted_nothing": [bool per run]}. A run that predicted nothing shows its counts only (no score)."""
    evaluations = [run_latest_evaluation(run, split) for run in runs]
    nothing = [evaluation_predicted_nothing(e) for e in evaluations]
    present = [e for e in evaluations if e is not None]

    def value(e: Evaluation | None, empty: bool, key: str):
        return None if e is None or (empty and key not in COUNT_KEYS) else e.metrics.get(key)

    rows = [
        (
            METRIC_LABELS.get(key, key.replace("_", " ")),
            key,
            [value(e, n, key) for e, n in zip(evaluations, nothing, strict=True)],
        )
        for key in metric_keys(present)
    ]
    depth = max((len(e.metrics.get("per_level") or []) for e in present), default=0)
    level_rows = []
    for level in range(depth):
        for key, label in (("micro_f1", "Micro-F1"), ("macro_f1", "Macro-F1"), ("accuracy", "Accuracy")):
            values = []
            for e, empty in zip(evaluations, nothing, strict=True):
                per_level = (e.metrics.get("per_level") or []) if e and not empty else []
                values.append(per_level[level].get(key) if level < len(per_level) else None)
            level_rows.append((f"Level {level + 1} {label}", f"level{level + 1}_{key}", values))
    return {
        "runs": runs,
        "evaluations": evaluations,
        "rows": rows,
        "level_rows": level_rows,
        "predicted_nothing": nothing,
        "any_predicted_nothing": any(nothing),
    }


def per_level_series(runs: list[Run], split: str, key: str) -> tuple[list[str], list[tuple[str, list[float]]]]:
    """Groups (levels) and one series per run of the per-level `key` (micro_f1 or macro_f1)."""
    series = []
    depth = 0
    for run in runs:
        evaluation = run_latest_evaluation(run, split)
        if evaluation is None or evaluation_predicted_nothing(evaluation):
            continue  # nothing predicted: no bars of zeros as if it had been measured
        per_level = evaluation.metrics.get("per_level") or []
        depth = max(depth, len(per_level))
        # The legend states each run's document count: the plot shows the numbers of the table above it.
        label = f"{isolate(run.name)} ({evaluation.document_count:,} {split} documents)"
        series.append((label, [float(level.get(key) or 0.0) for level in per_level]))
    series = [(name, values + [0.0] * (depth - len(values))) for name, values in series]
    return [f"Level {d + 1}" for d in range(depth)], series


def shots_series(runs: list[Run], split: str, key: str) -> tuple[list[str], list[tuple[str, list[float | None]]]]:
    """Metric versus shots: categories (shots, "all" last) and one line per strategy, the mean over seeds."""
    values: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        evaluation = run_latest_evaluation(run, split)
        value = evaluation.metrics.get(key) if evaluation and not evaluation_predicted_nothing(evaluation) else None
        if isinstance(value, (int, float)):
            label = run.strategy + (f" + {run.corrector}" if run.corrector else "")
            values[label][run.shots].append(float(value))
    shots = sorted({s for per in values.values() for s in per}, key=lambda s: (s == 0, s))
    categories = ["all" if s == 0 else str(s) for s in shots]
    series = [(label, [mean(per[s]) if per.get(s) else None for s in shots]) for label, per in sorted(values.items())]
    return categories, series


def confusion_for_run(*, run: Run, split: str, level: int, limit: int = 25) -> dict | None:
    """Confusion within one level for a run's predictions on a split, or None when there is nothing to show.

    Returns {"labels": [names], "matrix": [[counts]], "level", "n_levels", "shown", "total"}; only the `limit`
    labels most frequent in gold or predictions are kept (the rest are summed into "other")."""
    from classifiers.adapters import gold_paths_for, path_of, run_hierarchy
    from classifiers.engine.metrics import confusion_at_level

    if not run.model_dir:
        return None
    try:
        hierarchy = run_hierarchy(run)
    except (OSError, ValueError, KeyError):
        return None
    rows = Prediction.objects.filter(run=run, document__gold_labels__isnull=False, document__generated=False)
    rows = rows.distinct()
    if split != "all":
        rows = rows.filter(document__split=split)
    rows = list(rows.order_by("document_id").values_list("document_id", "paths"))
    if not rows or not hierarchy.n_levels:
        return None
    level = min(max(level, 1), hierarchy.n_levels)
    gold = gold_paths_for([doc_id for doc_id, _ in rows], hierarchy)
    pred = [[p for p in (path_of(ids, hierarchy) for ids in paths) if p is not None] for _, paths in rows]
    indices, matrix = confusion_at_level(gold, pred, hierarchy, level)
    from taxonomies.models import Node

    # Current names where the node still exists (a label renamed since training shows its new name).
    wanted = {hierarchy.ids[j] for i in indices if i >= 0 for j in hierarchy.path_to(i)}
    current = dict(Node.objects.filter(pk__in=wanted).values_list("pk", "name"))
    names = labels_by_path(hierarchy, indices, current)
    weight = matrix.sum(axis=0) + matrix.sum(axis=1)
    order = [int(i) for i in weight.argsort()[::-1] if weight[i] > 0]
    keep = order[:limit]
    rest = order[limit:]
    labels = [names[i] for i in keep]
    table = [[float(matrix[g, p]) for p in keep] for g in keep]
    if rest:
        labels.append(f"(other {len(rest)})")
        for k, g in enumerate(keep):
            table[k].append(float(matrix[g, rest].sum()))
        table.append([float(matrix[rest, p].sum()) for p in keep] + [float(matrix[rest][:, rest].sum())])
    return {
        "labels": labels,
        "matrix": table,
        "level": level,
        "n_levels": hierarchy.n_levels,
        "shown": len(keep),
        "total": len(order),
        "documents": len(rows),
    }


def labels_by_path(hierarchy, indices: list[int], current: dict[int, str] | None = None) -> list[str]:
    """Display names of hierarchy nodes: the name, or the path ("Biology > Immune response") where the same
    name appears more than once among `indices`; -1 is "(none)". `current` maps node ids to today's names."""
    current = current or {}

    def name(i: int) -> str:
        return current.get(hierarchy.ids[i], hierarchy.names[i])

    counts = Counter(name(i) for i in indices if i >= 0)
    return [
        "(none)" if i < 0 else (" > ".join(name(j) for j in hierarchy.path_to(i)) if counts[name(i)] > 1 else name(i))
        for i in indices
    ]


def document_predictions(*, document) -> list[dict]:
    """Every run's prediction for a document, with what a corrector changed, named from the current tree."""
    from taxonomies.selectors import taxonomy_tree

    tree = taxonomy_tree(taxonomy=document.project.taxonomy)

    def text(paths: list[list[int]]) -> str:
        return " | ".join(path_text(tree, p) for p in paths)

    out = []
    for p in Prediction.objects.filter(document=document).select_related("run").order_by("-run__created_at"):
        out.append(
            {
                "prediction": p,
                "run": p.run,
                "path": text(p.paths) or "(no valid answer)",
                "raw": text(p.raw_paths) if p.raw_paths and p.raw_paths != p.paths else "",
                "scores": p.scores,
            }
        )
    return out


def path_text(tree, node_ids: list[int]) -> str:
    """A path for the page: each name bidi-isolated (htc_app.bidi), a label deleted since shown as #id."""
    return " > ".join(isolate(tree.nodes[i].name) if i in tree.nodes else f"#{i}" for i in node_ids)


def document_pseudo_labels(*, document) -> list[dict]:
    """The weak runs that pseudo-labelled this document: run, path (named from the current tree), confidence."""
    from classifiers.models import PseudoLabel
    from taxonomies.selectors import taxonomy_tree

    rows = list(PseudoLabel.objects.filter(document=document).select_related("run").order_by("-run__created_at"))
    if not rows:
        return []
    tree = taxonomy_tree(taxonomy=document.project.taxonomy)
    return [{"run": p.run, "path": path_text(tree, p.path), "confidence": p.confidence} for p in rows]


#: The jobs a person may start on a run (the run page's action list and `POST .../runs/<id>/jobs/`).
RUN_JOB_KINDS = ("predict", "evaluate", "pipeline")


def run_possible_jobs(run: Run, *, has_predictions: bool | None = None) -> list[tuple[str, str]]:
    """The jobs that can work on this run now, as (kind, label): the one rule behind the run page's action
    list and the API's run-job endpoint. Predicting needs a kept model (a trained run), evaluating needs that
    model's stored predictions; a run being trained takes none; a new, failed or cancelled run can only be
    trained again (the pipeline). `has_predictions` is looked up when not given."""
    return _run_jobs(run, has_predictions)[0]


def run_job_refusal(run: Run, kind: str, *, has_predictions: bool | None = None) -> str | None:
    """Why `kind` cannot be started on this run now, in words (None when it can), by `run_possible_jobs`."""
    if kind not in RUN_JOB_KINDS:
        return None  # other kinds (train, update_labels) are started by their own use cases
    choices, why = _run_jobs(run, has_predictions)
    possible = [k for k, _ in choices]
    if kind in possible:
        return None
    offered = ", ".join(possible) if possible else "nothing"
    return f"This run cannot {kind} now: {why}. It offers: {offered}."


def _run_jobs(run: Run, has_predictions: bool | None) -> tuple[list[tuple[str, str]], str]:
    """(the jobs that can work on this run now, why the other run jobs cannot): one ladder for both."""
    if run.state == Run.State.TRAINING:
        return [], "it is being trained"
    if run.state != Run.State.TRAINED:
        state = run.get_state_display().lower()
        return [
            ("pipeline", "Train, predict and evaluate")
        ], f"it is {state} and keeps no model; train it again (the pipeline)"
    if not run.model_dir:
        return [], "no trained model is kept"  # "trained" with no model kept: nothing can predict or be evaluated
    if has_predictions is None:
        has_predictions = run.predictions.exists()
    if not has_predictions:
        return [
            ("predict", "Predict"),
            ("pipeline", "Predict and evaluate"),
        ], "it has no predictions yet; predict first"
    return [("predict", "Predict"), ("evaluate", "Evaluate"), ("pipeline", "Predict and evaluate")], ""


def run_pseudo_labels(*, run: Run):
    """A weak run's pseudo-labelled documents, most confident first, with their documents' ids."""
    from classifiers.models import PseudoLabel

    return (
        PseudoLabel.objects.filter(run=run)
        .select_related("document")
        .only("id", "path", "confidence", "document__id", "document__external_id", "document__generated")
        .order_by("-confidence", "document_id")
    )


def run_calls_llm(run: Run) -> bool:
    """Whether the run's strategy (or one of its cascade stages, or its weak scorer) calls an LLM."""
    from classifiers.engine import registry

    names = [run.strategy]
    params = run.params or {}
    names += [str(stage.get("strategy", "")) for stage in params.get("stages") or [] if isinstance(stage, dict)]
    if run.strategy == "weak":
        names.append(str(params.get("scorer", "")))
    return any(name in registry.STRATEGIES and registry.capabilities(name).calls_llm for name in names)


def run_llm_summary(run: Run) -> dict | None:
    """The run's LLM figures for its page: calls, cache hits, tokens (total and per document), answers that
    were invalid or failed (failures by kind); None when the strategy calls no LLM."""
    stats = dict(run.stats.get("llm") or {})
    if not stats and not run_calls_llm(run):
        return None
    documents = int(stats.get("documents", 0))
    prompt, completion = int(stats.get("prompt_tokens", 0)), int(stats.get("completion_tokens", 0))
    per_doc = (lambda v: v / documents) if documents else (lambda v: None)
    kinds = sorted((stats.get("failed_by_kind") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "documents": documents,
        "calls": int(stats.get("calls", 0)),
        "cache_hits": int(stats.get("cache_hits", 0)),
        "retries": int(stats.get("retries", 0)),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "tokens_per_doc": per_doc(prompt + completion),
        "calls_per_doc": per_doc(int(stats.get("calls", 0))),
        "seconds": stats.get("seconds"),
        "invalid": int(stats.get("invalid", 0)),
        "failed": int(stats.get("failed", 0)),
        "failed_by_kind": kinds,
        "cost": stats.get("cost") or 0.0,
    }
