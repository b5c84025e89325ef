"""Confidence cascade: a cheap stage first, only low-confidence documents go to the next (costlier) stage.

`stages` is a list of {"strategy": name, "params": {...}, "threshold": t}; the confidence of a prediction
is the product (or min, `confidence="min"`) of the per-level scores of its predicted path, after optional
temperature scaling fitted on `dev` (texts, paths). Documents still below the last stage's threshold
are flagged in `needs_review_`; `stages_` records which stage decided each document.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn, decode_scores, path_confidence
from classifiers.engine.calibration import apply_temperatures, fit_level_temperatures
from classifiers.engine.hierarchy import Hierarchy, as_multi


class CascadeClassifier(HierarchicalClassifier):
    strategy_name = "cascade"

    def __init__(self, stages: Sequence[dict] | None = None, calibrate: bool = True, confidence: str = "product"):
        self.stages = stages
        self.calibrate = calibrate
        self.confidence = confidence

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Fit every stage on the same data; with `calibrate` and `dev=(texts, paths)`, fit per-level
        temperatures for each stage on dev. Returns self."""
        from classifiers.engine.registry import make_strategy

        if not self.stages:
            raise ValueError("a cascade needs at least one stage")
        self.hierarchy_ = hierarchy
        self.estimators_ = []
        self.temperatures_: list[list[float]] = []
        for k, stage in enumerate(self.stages, start=1):
            est = make_strategy(stage["strategy"], **(stage.get("params") or {}))
            est.fit(texts, paths, hierarchy, dev=dev)
            temps = [1.0] * hierarchy.n_levels
            if self.calibrate and dev is not None and len(dev[0]):
                gold = [p[0] for p in as_multi(dev[1])]
                temps = fit_level_temperatures(est.predict_scores(list(dev[0])), hierarchy, gold)
            self.estimators_.append(est)
            self.temperatures_.append(temps)
            if progress:
                progress(k, len(self.stages))
        return self

    def _stage_output(self, k: int, texts: list[str]):
        est = self.estimators_[k]
        scores = apply_temperatures(est.predict_scores(texts), self.temperatures_[k])
        paths = decode_scores(scores, self.hierarchy_, getattr(est, "decode", "best_path"))
        per_level = path_confidence(scores, self.hierarchy_, paths)
        agg = np.min if self.confidence == "min" else np.prod
        conf = np.array([float(agg(c)) if c else 0.0 for c in per_level])
        return scores, paths, conf

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """Per-level scores of the stage that decided each document (also sets stages_, confidences_, needs_review_)."""
        texts = list(texts)
        n = len(texts)
        out = [np.zeros((n, len(level))) for level in self.hierarchy_.levels]
        self.stages_ = [-1] * n
        self.confidences_ = [0.0] * n
        self.needs_review_ = [False] * n
        pending = list(range(n))
        for k, stage in enumerate(self.stages):
            if not pending:
                break
            scores, _, conf = self._stage_output(k, [texts[i] for i in pending])
            threshold = float(stage.get("threshold", 0.0) or 0.0)
            last = k == len(self.stages) - 1
            still = []
            for j, i in enumerate(pending):
                if conf[j] >= threshold or last:
                    for d in range(len(out)):
                        out[d][i] = scores[d][j]
                    self.stages_[i] = k
                    self.confidences_[i] = float(conf[j])
                    self.needs_review_[i] = bool(last and conf[j] < threshold)
                else:
                    still.append(i)
            pending = still
            if progress:
                progress(k + 1, len(self.stages))
        return out

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        scores = self.predict_scores(texts, progress=progress)
        return [[p] for p in decode_scores(scores, self.hierarchy_, "top_down")]

    # ----- persistence: each stage in its own sub-folder -----
    def write_files(self, directory: FsPath) -> None:
        super().write_files(directory)
        for k, est in enumerate(self.estimators_):
            est.save(FsPath(directory) / f"stage{k}")

    def state_json(self) -> dict[str, Any]:
        return {"temperatures": self.temperatures_}

    def load_state(self, state: dict[str, Any], tensors, directory: FsPath) -> None:
        from classifiers.engine.registry import load_estimator

        self.temperatures_ = state["temperatures"]
        self.estimators_ = [load_estimator(FsPath(directory) / f"stage{k}") for k in range(len(self.stages))]
