"""Strategy plug-ins, the app side: one registry of hooks around the engine estimators.

A strategy is its engine estimator, named in `classifiers.engine.registry.STRATEGIES` with what it can do
(`training_free`, `supports_growth`, `supports_corrector`, `multi_path`, `uses_torch`, `calls_llm`: its class's
attributes, declared beside its name too so the web reads them without importing torch), plus, only where
the app must do more than the defaults below, a `StrategyHooks` subclass named in `HOOKS`. Adding a strategy
touches its own module and one registry line; `classifiers.services` calls the hooks and never names one:

- create a run or configuration: `clean_params`, then `training_ids` (None: the labelled train and dev
  splits) and `training_free` (an empty train split is fine); `members` names the strategies a composite
  uses (its jobs' queue follows their `uses_torch` / `calls_llm`);
- train: `estimator_params`, `prepare_fit` (may hide or replace the gold paths), `after_fit` (inside the
  run's final transaction; returns figures merged into Run.stats);
- predict: `prepare_predict` once per loaded model, `after_predict_chunk` after each stored chunk.
"""

from __future__ import annotations

import importlib
from pathlib import Path as FsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from classifiers.adapters import label_texts_for
from classifiers.engine import registry
from classifiers.engine.cascade import SUMMED_STATS
from classifiers.engine.hierarchy import Hierarchy

#: Strategy name -> "module:Class" of its hooks, for strategies whose app side differs from `StrategyHooks`.
HOOKS: dict[str, str] = {
    "cascade": "classifiers.cascading:CascadeHooks",
    "weak": "classifiers.weak:WeakHooks",
    "ensemble": "classifiers.selecting:SelectionHooks",
    "auto": "classifiers.selecting:SelectionHooks",
}


def strategy_hooks(name: str) -> StrategyHooks:
    """The app-side hooks of strategy `name` (the defaults when it registers none)."""
    target = HOOKS.get(name)
    if target is None:
        return StrategyHooks(name)
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(name)


def llm_cache_dir() -> FsPath:
    return FsPath(settings.HTC_DATA_DIR) / "llm_cache"


def apply_endpoint(*, project, estimator, cache_dir=None):
    """Point an LLM strategy at the project's endpoint and return it.

    Non-secret settings become parameters (saved with the run); templates the run did not set come
    from the project's overrides. The key and the allow-list are runtime-only (never saved)."""
    from endpoints.services import endpoint_client_kwargs

    kwargs = endpoint_client_kwargs(project)
    api_key = kwargs.pop("api_key")
    allowed_hosts = kwargs.pop("allowed_hosts")
    templates = kwargs.pop("templates")
    own = estimator.get_params(deep=False)
    params = {k: v for k, v in kwargs.items() if k in own}
    if not own.get("templates") and templates:
        params["templates"] = templates
    hierarchy = getattr(estimator, "hierarchy_", None)
    if own.get("use_descriptions") and hierarchy is not None:
        params["label_descriptions"] = label_texts_for(hierarchy)
    estimator.set_params(**params)
    estimator.set_runtime(api_key=api_key or None, allowed_hosts=allowed_hosts, cache_dir=cache_dir)
    return estimator


class StrategyHooks:
    """The default app side of a strategy; subclasses override only what differs."""

    def __init__(self, name: str):
        self.name = name

    @property
    def engine_class(self):
        return registry.strategy_class(self.name)

    @property
    def capabilities(self) -> registry.Capabilities:
        """What the strategy can do, read without importing its engine module (torch stays out of the web)."""
        return registry.capabilities(self.name)

    def clean_params(self, params: dict, *, corrector: str) -> dict:
        """The parameters of a new run or configuration, checked (ValidationError names the field)."""
        if corrector and not self.capabilities.supports_corrector:
            raise ValidationError({"corrector": f"The {self.name} strategy does not take a corrector."})
        return params

    def members(self, params: dict) -> list[str]:
        """The other strategies a composite run uses (cascade stages, weak scorer and base, ensemble members)."""
        return []

    def training_ids(self, project) -> list[int] | None:
        """The documents a new run learns from, or None for the labelled train split (sampled by shots)."""
        return None

    def training_free(self, params: dict) -> bool:
        """True when a run learns nothing from labelled documents (an empty train split is fine)."""
        return self.capabilities.training_free

    def estimator_params(self, params: dict, hierarchy: Hierarchy) -> dict:
        """Estimator parameters with the taxonomy's label texts (descriptions and terms) handed over the way
        the strategy takes them, unless the run set them itself. Nothing here is stored in Run.params."""
        texts = label_texts_for(hierarchy)
        out = dict(params)
        accepted = self.engine_class._get_param_names()
        if "label_texts" in accepted and "label_texts" not in out and texts:
            out["label_texts"] = texts
        if "label_descriptions" in accepted and texts:
            out.setdefault("use_descriptions", True)  # filled from the taxonomy at predict time
        return out

    def prepare_fit(self, *, run, estimator, doc_ids: list[int], paths: list) -> list:
        """Set runtime state before fitting; returns the gold paths the estimator may see."""
        return paths

    def after_fit(self, *, run, estimator, doc_ids: list[int], hierarchy: Hierarchy) -> dict[str, Any]:
        """Write what the fitted model produced besides itself; returns figures for Run.stats."""
        return {}

    def prepare_predict(self, *, run, estimator) -> None:
        """Set runtime state on a loaded model before it predicts (an LLM strategy: the project's endpoint)."""
        if getattr(estimator, "calls_llm", False):
            apply_endpoint(project=run.project, estimator=estimator, cache_dir=llm_cache_dir())

    def after_predict_chunk(self, *, run, estimator) -> None:
        """Add one chunk's LLM figures (calls, tokens, cost, invalid and failed answers) to Run.stats["llm"]."""
        stats = getattr(estimator, "stats_", None)
        if not isinstance(stats, dict):
            return
        run.refresh_from_db(fields=["stats"])
        totals = dict(run.stats.get("llm", {}))
        for key in SUMMED_STATS:
            if isinstance(stats.get(key), (int, float)):
                totals[key] = totals.get(key, 0) + stats[key]
        if isinstance(stats.get("failed_by_kind"), dict):
            kinds = dict(totals.get("failed_by_kind") or {})
            for kind, n in stats["failed_by_kind"].items():
                kinds[kind] = kinds.get(kind, 0) + int(n)
            totals["failed_by_kind"] = kinds
        docs = max(1, totals.get("documents", 0))
        totals["calls_per_doc"] = totals.get("calls", 0) / docs
        totals["tokens_per_doc"] = (totals.get("prompt_tokens", 0) + totals.get("completion_tokens", 0)) / docs
        run.stats = {**run.stats, "llm": totals}
        run.save(update_fields=["stats"])
