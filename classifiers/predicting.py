"""The prediction loop: load a run's model once, predict a split in chunks, upsert Prediction rows.

Chunks are idempotent: documents that already have a prediction for the run are skipped, and rows
are upserted on (run, document), so a chunk that runs twice (a retried job) writes each row once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from classifiers.adapters import MULTIPATH_FILE, SPLITS, chunks, corrector_class, run_model_folder
from classifiers.engine import registry
from classifiers.engine.base import Cancelled, HierarchicalClassifier, decode_scores, path_confidence
from classifiers.engine.hierarchy import Hierarchy, as_multi
from classifiers.engine.llm.strategy_base import LLMStrategy
from classifiers.engine.manifest import ModelFilesChanged, ModelPathRefused
from classifiers.models import Prediction, Run
from classifiers.strategies import strategy_hooks
from corpora.models import Document
from jobs.progress import JobCancelled, JobError

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
    estimator = run_load_model(run)
    hooks = strategy_hooks(run.strategy)
    hooks.prepare_predict(run=run, estimator=estimator)
    calls_llm = bool(getattr(estimator, "calls_llm", False))
    should_stop = getattr(progress, "cancel_requested", None)
    if isinstance(estimator, LLMStrategy):
        # A cancel is looked at while calls are made; a refused key returns the answers received before it.
        estimator.set_runtime(should_stop=should_stop, keep_partial=True)
    corrector = _load_corrector(run)
    selector = _load_selector(run)
    # LLM answers cost money and time: commit them in small batches so a fatal error or a cancel keeps them.
    size = int(getattr(settings, "HTC_LLM_COMMIT_BATCH", 8)) if calls_llm else CHUNK_SIZE
    failures = LLMFailures(total=total, share=float(getattr(settings, "HTC_LLM_MAX_FAILED_SHARE", 0.0)))
    written = 0
    for chunk in chunks(todo, size):
        if should_stop is not None and should_stop():
            raise JobCancelled(f"Run {run.name!r}: prediction cancelled")
        texts = dict(Document.objects.filter(pk__in=chunk).values_list("id", "text"))
        ids = [pk for pk in chunk if pk in texts]
        # Torch strategies look at the cancel flag between encoding batches; LLM ones before every call (above).
        check = None if calls_llm else _cancel_check(should_stop)
        try:
            outcomes = predict_texts(
                estimator, [texts[pk] for pk in ids], corrector=corrector, selector=selector, progress=check
            )
        except Cancelled:
            raise JobCancelled(f"Run {run.name!r}: prediction cancelled; {written} predictions kept") from None
        stopped = str(getattr(estimator, "stopped_", "") or "") if calls_llm else ""
        failed = _per_doc(estimator, "failed_", len(ids)) if calls_llm else None
        failures.add(failed or [])
        keep = _kept(estimator, len(ids), drop_failed=bool(stopped) or failures.exceeded) if calls_llm else None
        rows = [
            Prediction(run=run, document_id=pk, **{"stage": run.strategy, **outcome})
            for i, (pk, outcome) in enumerate(zip(ids, outcomes, strict=True))
            if keep is None or keep[i]
        ]
        with transaction.atomic():
            Prediction.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["run", "document"], update_fields=UPDATE_FIELDS
            )
        written += len(rows)
        hooks.after_predict_chunk(run=run, estimator=estimator)
        _record_failures(run, failures)
        if progress:
            progress(written, total)  # may raise JobCancelled: everything above is already saved
        if stopped == "cancelled":
            raise JobCancelled(f"Run {run.name!r}: prediction cancelled; {written} answers kept")
        if stopped:
            raise JobError(f"The run stopped ({_reason(stopped)}); {failures.summary(written)}")
        if failures.exceeded:
            raise JobError(failures.message(written))
    return written


class LLMFailures:
    """Documents whose LLM call failed for a transport reason, against the share a job tolerates."""

    def __init__(self, *, total: int, share: float):
        self.total = total
        self.share = max(0.0, share)
        self.count = 0
        self.reasons: dict[str, int] = {}

    def add(self, failed: Sequence[str | None]) -> None:
        for reason in failed:
            if reason:
                self.count += 1
                self.reasons[reason] = self.reasons.get(reason, 0) + 1

    @property
    def exceeded(self) -> bool:
        return self.count > self.share * self.total

    def main_reason(self) -> str:
        """The most frequent reason; "paused after N failures" (the circuit breaker) only when it is the only one."""
        causes = {r: n for r, n in self.reasons.items() if not r.startswith("circuit_open")} or self.reasons
        return _reason(max(causes, key=causes.get)) if causes else ""

    def summary(self, kept: int) -> str:
        return f"{kept} of {self.total} documents answered and kept, {self.count} failed"

    def message(self, kept: int) -> str:
        allowed = f"{self.share:.0%}" if self.share else "none"
        return (
            f"LLM calls failed for {self.count} of {self.total} documents ({self.main_reason()}); "
            f"the allowed share is {allowed}. {kept} answers were kept; predict again to retry the rest."
        )

    def as_stats(self) -> dict:
        return {"failed_reasons": dict(self.reasons), "last_failure": self.main_reason()}


def _cancel_check(should_stop: Callable[[], bool] | None) -> Callable[[int, int], None] | None:
    """An engine progress callback that raises the engine's Cancelled once the job is asked to stop."""
    if should_stop is None:
        return None

    def check(done: int, total: int) -> None:
        if should_stop():
            raise Cancelled("cancel requested")

    return check


def _reason(failed: str) -> str:
    """'server: The LLM endpoint answered HTTP 500.' -> 'The LLM endpoint answered HTTP 500.'"""
    kind, _, text = failed.partition(": ")
    return (text or kind).strip().rstrip(".")


def _kept(estimator, n: int, *, drop_failed: bool) -> list[bool]:
    """Which documents of a batch to write: never the ones not asked; the failed ones only while tolerated."""
    answered = _per_doc(estimator, "answered_", n) or [True] * n
    failed = _per_doc(estimator, "failed_", n) or [None] * n
    return [bool(a) and not (drop_failed and f) for a, f in zip(answered, failed, strict=True)]


def run_load_model(run: Run):
    """The run's trained estimator, checked against the checksums written at training (see engine/manifest.py)."""
    try:
        return registry.load_model(run_model_folder(run))
    except (ModelFilesChanged, ModelPathRefused) as exc:
        raise JobError(f"Run {run.name!r} cannot be used: {exc}. Train it again.") from None


def _record_failures(run: Run, failures: LLMFailures) -> None:
    """Why documents got no LLM answer, next to the counts in Run.stats["llm"] (shown on the run page)."""
    if not failures.count:
        return
    run.refresh_from_db(fields=["stats"])
    run.stats = {**run.stats, "llm": {**run.stats.get("llm", {}), **failures.as_stats()}}
    run.save(update_fields=["stats"])


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


def predict_texts(
    estimator,
    texts: Sequence[str],
    *,
    corrector=None,
    selector=None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Per text: Prediction field values (paths and raw_paths as node-id lists, per-level scores, margin, ...).

    With a `selector` (multi-path projects) each document gets every path whose probability reaches its
    threshold (at least one, at most N); a corrected path goes first. `progress(done, total)` is handed to the
    estimator (it may raise the engine's Cancelled to stop)."""
    extra = {"progress": progress} if progress is not None else {}
    hierarchy: Hierarchy = estimator.hierarchy_
    scores: list[np.ndarray] | None = None
    if selector is not None:
        from classifiers.engine.multipath import path_proba_from_scores

        scores = [np.asarray(s) for s in estimator.predict_scores(texts, **extra)]
        paths = selector.select(path_proba_from_scores(scores, hierarchy), hierarchy)
    elif type(estimator).predict is HierarchicalClassifier.predict:
        # Decode the scores we already have instead of letting predict() compute them again.
        scores = [np.asarray(s) for s in estimator.predict_scores(texts, **extra)]
        paths = [[p] for p in decode_scores(scores, hierarchy, getattr(estimator, "decode", "best_path"))]
    else:
        paths = as_multi(estimator.predict(texts, **extra))
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
