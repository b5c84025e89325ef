"""Cascade runs in the app: validate the stages, point LLM stages at the project's endpoint, record figures.

A cascade run's `params` are `{"stages": [{"strategy", "params", "corrector", "threshold"}, ...],
"calibrate": bool, "confidence": "product" | "min"}`. The last stage's threshold is the review threshold:
documents it is less sure of than that are decided by a human (Prediction.stage == "review"); 0 sends
none. Per-stage figures go to `Run.stats["cascade"]`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from classifiers.engine import registry
from classifiers.strategies import StrategyHooks, apply_endpoint, llm_cache_dir, strategy_hooks

CASCADE = "cascade"
MAX_STAGES = 3
STAGE_KEYS = {"strategy", "params", "corrector", "threshold"}
CASCADE_KEYS = {"stages", "calibrate", "confidence"}
#: Per-stage counters added up over prediction chunks.
COUNTERS = ("routed", "decided", "review", "calls", "prompt_tokens", "completion_tokens", "cost")


def cascade_params_clean(params: dict[str, Any] | None) -> dict[str, Any]:
    """The cascade parameters, checked and normalised; raises ValidationError({"params": [...]}) naming
    the stage and field at fault."""
    params = dict(params or {})
    errors: list[str] = []
    unknown = sorted(set(params) - CASCADE_KEYS)
    if unknown:
        errors.append(f"Unknown cascade parameter(s) {', '.join(unknown)}; use stages, calibrate, confidence.")
    stages = params.get("stages")
    if not isinstance(stages, list) or not stages:
        errors.append('A cascade needs stages: a JSON list such as [{"strategy": "tfidf", "threshold": 0.7}, ...].')
        stages = []
    elif len(stages) > MAX_STAGES:
        errors.append(f"A cascade has at most {MAX_STAGES} stages (got {len(stages)}).")
    clean = []
    for k, stage in enumerate(stages[:MAX_STAGES], start=1):
        stage_errors, cleaned = _stage_clean(k, stage)
        errors.extend(stage_errors)
        clean.append(cleaned)
    if params.get("confidence", "product") not in ("product", "min"):
        errors.append("confidence must be 'product' or 'min'.")
    if not isinstance(params.get("calibrate", True), bool):
        errors.append("calibrate must be true or false.")
    if errors:
        raise ValidationError({"params": errors})
    return {
        "stages": clean,
        "calibrate": params.get("calibrate", True),
        "confidence": params.get("confidence", "product"),
    }


def _stage_clean(k: int, stage: Any) -> tuple[list[str], dict]:
    if not isinstance(stage, dict):
        return [f"Stage {k}: expected an object with strategy, params, corrector, threshold."], {}
    errors = []
    unknown = sorted(set(stage) - STAGE_KEYS)
    if unknown:
        errors.append(f"Stage {k}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(STAGE_KEYS))}.")
    strategy = stage.get("strategy")
    if strategy == CASCADE:
        errors.append(f"Stage {k}: a cascade cannot contain a cascade.")
    elif strategy not in registry.STRATEGIES:
        known = ", ".join(sorted(s for s in registry.STRATEGIES if s != CASCADE))
        errors.append(f"Stage {k}: unknown strategy {strategy!r}; known: {known}.")
    params = stage.get("params") or {}
    if not isinstance(params, dict) or not all(isinstance(key, str) and key.isidentifier() for key in params):
        errors.append(f"Stage {k}: params must be an object of name: value pairs.")
        params = {}
    corrector = stage.get("corrector") or ""
    if corrector not in ("", "crf"):
        errors.append(f"Stage {k}: unknown corrector {corrector!r}; use '' or 'crf'.")
    threshold = stage.get("threshold", 0.0)
    if threshold is None:
        threshold = 0.0
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
        errors.append(f"Stage {k}: threshold must be a number from 0 to 1 (got {threshold!r}).")
        threshold = 0.0
    return errors, {"strategy": strategy, "params": params, "corrector": corrector, "threshold": float(threshold)}


def cascade_stage_hook(project):
    """A `stage_hook(k, estimator)` that points LLM stages at the project's endpoint (key at run time only)."""
    cache_dir = llm_cache_dir()

    def hook(k: int, estimator) -> None:
        if getattr(estimator, "calls_llm", False):
            apply_endpoint(project=project, estimator=estimator, cache_dir=cache_dir)

    return hook


class CascadeHooks(StrategyHooks):
    """A cascade's params are checked here (its stages carry their own correctors, so the run-level one must be
    empty); it needs no labelled documents when none of its stages does; LLM stages get the endpoint."""

    def clean_params(self, params: dict, *, corrector: str) -> dict:
        if corrector:
            raise ValidationError({"corrector": 'A cascade takes a corrector per stage ("corrector": "crf").'})
        return cascade_params_clean(params)

    def members(self, params: dict) -> list[str]:
        return [str(stage.get("strategy", "")) for stage in params.get("stages") or [] if isinstance(stage, dict)]

    def training_free(self, params: dict) -> bool:
        return all(
            strategy_hooks(stage["strategy"]).training_free(stage.get("params") or {})
            for stage in params.get("stages", [])
        )

    def prepare_fit(self, *, run, estimator, doc_ids: list[int], paths: list) -> list:
        estimator.set_runtime(stage_hook=cascade_stage_hook(run.project))
        return paths

    def after_fit(self, *, run, estimator, doc_ids: list[int], hierarchy) -> dict[str, Any]:
        return {CASCADE: cascade_train_stats(estimator)}

    def prepare_predict(self, *, run, estimator) -> None:
        hook = cascade_stage_hook(run.project)
        estimator.set_runtime(stage_hook=hook)
        for k, stage_estimator in enumerate(estimator.estimators_):
            hook(k, stage_estimator)

    def after_predict_chunk(self, *, run, estimator) -> None:
        super().after_predict_chunk(run=run, estimator=estimator)
        cascade_record_predict_stats(run, estimator)


def cascade_train_stats(estimator) -> dict[str, Any]:
    """What a trained cascade reports for Run.stats["cascade"]: per stage its name, threshold, temperatures,
    ECE before/after calibration on dev, and the dev confidences/correctness the threshold plot uses."""
    from classifiers.engine.cascade import stage_name

    stages = []
    for k, stage in enumerate(estimator.stages):
        calibration = estimator.calibration_[k] if k < len(estimator.calibration_) else {}
        dev = estimator.dev_report_[k] if k < len(estimator.dev_report_) else {}
        stages.append(
            {
                "name": stage_name(k, stage),
                "threshold": float(stage.get("threshold") or 0.0),
                "temperatures": [round(float(t), 4) for t in estimator.temperatures_[k]],
                "ece_before": calibration.get("ece_before"),
                "ece_after": calibration.get("ece_after"),
                "dev": dev,
            }
        )
    return {"stages": stages, "review": float(estimator.stages[-1].get("threshold") or 0.0) > 0.0}


def cascade_record_predict_stats(run, estimator) -> None:
    """Add one prediction chunk's per-stage counts, calls and tokens to Run.stats["cascade"]["predict"]."""
    run.refresh_from_db(fields=["stats"])
    cascade = dict(run.stats.get(CASCADE) or {})
    totals = list((cascade.get("predict") or {}).get("stages") or [])
    for k, stats in enumerate(getattr(estimator, "stage_stats_", [])):
        while len(totals) <= k:
            totals.append({key: 0 for key in COUNTERS})
        row = dict(totals[k])
        for key in COUNTERS:
            if isinstance(stats.get(key), (int, float)):
                row[key] = row.get(key, 0) + stats[key]
        totals[k] = row
    cascade["predict"] = {"stages": totals, "review": sum(row.get("review", 0) for row in totals)}
    run.stats = {**run.stats, CASCADE: cascade}
    run.save(update_fields=["stats"])
