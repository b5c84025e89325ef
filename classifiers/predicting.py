"""The prediction loop: load a run's model once, predict a split in chunks, upsert Prediction rows.

Chunks are idempotent: documents that already have a prediction for the run are skipped, and rows
are upserted on (run, document), so a chunk that runs twice (a retried job) writes each row once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction

from classifiers.adapters import MULTIPATH_FILE, SPLITS, chunks, corrector_class, run_model_folder
from classifiers.engine import registry
from classifiers.engine.base import HierarchicalClassifier, decode_scores, path_confidence
from classifiers.engine.hierarchy import Hierarchy, as_multi
from classifiers.models import Prediction, Run
from classifiers.strategies import strategy_hooks
from corpora.models import Document

CHUNK_SIZE = 256
UPDATE_FIELDS = ["paths", "scores", "raw_paths", "consistent", "valid", "raw_output", "margin", "stage", "leaf_node"]


def run_predict(*, run: Run, split: str = "test", progress: Callable[[int, int], None] | None = None) -> int:
    """Predict every document of a split (or "all") not yet predicted by the run; returns how many were written."""
    if split not in SPLITS:
        raise ValidationError({"split": f"Unknown split {split!r}."})
    if run.state != Run.State.TRAINED or not run.model_dir:
        raise ValidationError(f"Run {run.name!r} is not trained yet.")
    documents = Document.objects.filter(project_id=run.project_id)
    if split != "all":
        documents = documents.filter(split=split)
    done = set(Prediction.objects.filter(run=run).values_list("document_id", flat=True))
    todo = [pk for pk in documents.order_by("id").values_list("id", flat=True) if pk not in done]
    total = len(todo)
    if progress:
        progress(0, total)
    if not todo:
        return 0
    estimator = registry.load_estimator(run_model_folder(run))
    hooks = strategy_hooks(run.strategy)
    hooks.prepare_predict(run=run, estimator=estimator)
    corrector = _load_corrector(run)
    selector = _load_selector(run)
    written = 0
    for chunk in chunks(todo, CHUNK_SIZE):
        texts = dict(Document.objects.filter(pk__in=chunk).values_list("id", "text"))
        ids = [pk for pk in chunk if pk in texts]
        outcomes = predict_texts(estimator, [texts[pk] for pk in ids], corrector=corrector, selector=selector)
        rows = [
            Prediction(run=run, document_id=pk, **{"stage": run.strategy, **outcome})
            for pk, outcome in zip(ids, outcomes, strict=True)
        ]
        with transaction.atomic():
            Prediction.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["run", "document"], update_fields=UPDATE_FIELDS
            )
        written += len(chunk)
        if progress:
            progress(written, total)
        hooks.after_predict_chunk(run=run, estimator=estimator)
    return len(todo)


def _load_corrector(run: Run):
    if run.corrector != "crf":
        return None
    directory = run_model_folder(run) / "corrector"
    if not directory.exists():
        raise ValidationError(f"Run {run.name!r} was trained without its CRF corrector; train it again.")
    return corrector_class().load(directory)


def _load_selector(run: Run):
    """The multi-path threshold fitted at training time (multi-path projects), or None."""
    from classifiers.engine.multipath import PathSelector

    path = run_model_folder(run) / MULTIPATH_FILE
    return PathSelector.from_dict(json.loads(path.read_text())) if path.exists() else None


def predict_texts(estimator, texts: Sequence[str], *, corrector=None, selector=None) -> list[dict]:
    """Per text: Prediction field values (paths and raw_paths as node-id lists, per-level scores, margin, ...).

    With a `selector` (multi-path projects) each document gets every path whose probability reaches its
    threshold (at least one, at most N); a corrected path goes first."""
    hierarchy: Hierarchy = estimator.hierarchy_
    scores: list[np.ndarray] | None = None
    if selector is not None:
        from classifiers.engine.multipath import path_proba_from_scores

        scores = [np.asarray(s) for s in estimator.predict_scores(texts)]
        paths = selector.select(path_proba_from_scores(scores, hierarchy), hierarchy)
    elif type(estimator).predict is HierarchicalClassifier.predict:
        # Decode the scores we already have instead of letting predict() compute them again.
        scores = [np.asarray(s) for s in estimator.predict_scores(texts)]
        paths = [[p] for p in decode_scores(scores, hierarchy, getattr(estimator, "decode", "best_path"))]
    else:
        paths = as_multi(estimator.predict(texts))
        if corrector is not None or getattr(estimator, "scores_are_cheap", True):
            try:
                scores = [np.asarray(s) for s in estimator.predict_scores(texts)]
            except NotImplementedError:
                scores = None
    raw_paths = paths
    changed = [False] * len(texts)
    if corrector is not None:
        if scores is None:
            raise ValidationError("The CRF corrector needs per-level scores, which this strategy does not give.")
        corrected, changed = corrector.correct(scores, original=[p[0] if p else () for p in paths])
        paths = [
            [tuple(p), *[q for q in doc_paths[1:] if tuple(q) != tuple(p)]] if len(p) else []
            for p, doc_paths in zip(corrected, paths, strict=True)
        ]
    # A cascade's stages may carry their own corrector: what the deciding stage said before it.
    stage_raw = _per_doc(estimator, "corrected_from_", len(texts))
    if stage_raw is not None:
        raw_paths = [[p] if p is not None else [] for p in stage_raw]
        changed = [p is not None for p in stage_raw]
    stage_names = _per_doc(estimator, "stage_names_", len(texts))
    valid = _per_doc(estimator, "valid_", len(texts))
    raw_outputs = _per_doc(estimator, "raw_outputs_", len(texts))
    out = []
    for i, doc_paths in enumerate(paths):
        first = doc_paths[0] if doc_paths else ()
        out.append(
            {
                "paths": [_ids(p, hierarchy) for p in doc_paths],
                "leaf_node": int(hierarchy.ids[int(first[-1])]) if len(first) else None,
                "raw_paths": [_ids(p, hierarchy) for p in raw_paths[i]] if changed[i] else [],
                "scores": _confidence(scores, hierarchy, i, first),
                "margin": _margin(scores, i, len(first)) if scores is not None else None,
                "consistent": bool(doc_paths) and all(hierarchy.is_valid_path(p) for p in doc_paths),
                "valid": bool(valid[i]) if valid is not None else True,
                "raw_output": str(raw_outputs[i] or "") if raw_outputs is not None else "",
            }
        )
        if stage_names is not None and stage_names[i]:
            out[-1]["stage"] = str(stage_names[i])
    return out


def _ids(path: Sequence[int], hierarchy: Hierarchy) -> list[int]:
    return [int(hierarchy.ids[int(i)]) for i in path]


def _confidence(scores, hierarchy: Hierarchy, i: int, path: Sequence[int]) -> list[float]:
    if scores is None or not len(path):
        return []
    row = [s[i : i + 1] for s in scores]
    return [round(v, 6) for v in path_confidence(row, hierarchy, [tuple(int(n) for n in path)])[0]]


def _margin(scores: list[np.ndarray], i: int, depth: int) -> float | None:
    """Lowest top-1 minus top-2 score over the levels of the predicted path (top-1 alone for a one-node level)."""
    margins = []
    for level in scores[: max(depth, 1)]:
        row = np.sort(np.asarray(level[i], dtype=float))[::-1]
        if row.size:
            margins.append(float(row[0] - (row[1] if row.size > 1 else 0.0)))
    return round(min(margins), 6) if margins else None


def _per_doc(estimator, attribute: str, n: int) -> list | None:
    """A per-document attribute an estimator may record during predict (LLM answers), if it matches the batch."""
    values = getattr(estimator, attribute, None)
    if values is None:
        return None
    values = list(values)
    return values if len(values) == n else None
