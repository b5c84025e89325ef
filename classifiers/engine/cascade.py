"""Confidence cascade: a cheap stage first, only low-confidence documents go to the next (costlier) stage.

`stages` is a list of {"strategy": name, "params": {...}, "threshold": t, "corrector": "" | "crf"}; the
confidence of a prediction is the product (or min, `confidence="min"`) of the per-level scores of its
path, after temperature scaling fitted per stage on `dev` (texts, paths). A stage with `corrector="crf"`
decodes its (calibrated) scores with a CRF corrector fitted on dev (or on the training documents).
Documents still below the last stage's threshold are flagged in `needs_review_` (a last threshold of 0
sends nothing to review); `stages_` records which stage decided each document, `stage_names_` names it
("1:tfidf+crf", "2:llm-tmh", "review").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn, decode_scores, path_confidence
from classifiers.engine.calibration import apply_temperatures, expected_calibration_error, fit_level_temperatures
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi

REVIEW = "review"
#: The LLM figures that add up over documents and chunks (a cascade sums its stages, a run its chunks).
SUMMED_STATS = (
    "calls",
    "cache_hits",
    "failures",
    "retries",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "documents",
    "invalid",
    "failed",
    "inconsistent",
    "seconds",
)


def stage_name(k: int, stage: dict) -> str:
    """The label a stage's decisions carry: its 1-based number, strategy and corrector ("1:tfidf+crf")."""
    corrector = stage.get("corrector") or ""
    return f"{k + 1}:{stage['strategy']}" + (f"+{corrector}" if corrector else "")


class CascadeClassifier(HierarchicalClassifier):
    strategy_name = "cascade"
    #: Each stage carries its own corrector; the app asks its stages for the rest (classifiers.cascading).
    supports_corrector = False
    fits_path_threshold = False  # each stage decides its documents

    def __init__(self, stages: Sequence[dict] | None = None, calibrate: bool = True, confidence: str = "product"):
        self.stages = stages
        self.calibrate = calibrate
        self.confidence = confidence

    # ----- runtime (never saved) -----
    def set_runtime(self, *, stage_hook: Callable[[int, HierarchicalClassifier], None] | None = None):
        """`stage_hook(k, estimator)` is called on each stage estimator after it is fitted and before it
        predicts anything (e.g. to point an LLM stage at an endpoint with a key that must not be saved)."""
        self.__dict__.setdefault("_runtime", {})["stage_hook"] = stage_hook
        return self

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_runtime", None)
        return state

    def _hook(self, k: int, est) -> None:
        hook = self.__dict__.get("_runtime", {}).get("stage_hook")
        if hook is not None:
            hook(k, est)

    # ----- fit -----
    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Fit every stage on the same data; with `dev=(texts, paths)`: fit per-level temperatures (when
        `calibrate`) and the stage correctors on dev, and record each stage's dev confidences and
        correctness in `dev_report_` (ECE before/after calibration in `calibration_`). Returns self."""
        from classifiers.engine.registry import make_strategy

        if not self.stages:
            raise ValueError("a cascade needs at least one stage")
        self.hierarchy_ = hierarchy
        self.estimators_ = []
        self.correctors_: list = []
        self.temperatures_: list[list[float]] = []
        self.calibration_: list[dict[str, Any]] = []
        self.dev_report_: list[dict[str, Any]] = []
        has_dev = dev is not None and len(dev[0]) > 0
        dev_texts = list(dev[0]) if has_dev else []
        dev_gold = [p[0] if p else () for p in as_multi(dev[1])] if has_dev else []
        for k, stage in enumerate(self.stages):
            est = make_strategy(stage["strategy"], **(stage.get("params") or {}))
            est.fit(texts, paths, hierarchy, dev=dev)
            self._hook(k, est)
            self.estimators_.append(est)
            temps = [1.0] * hierarchy.n_levels
            raw_scores, raw_paths, stats = None, None, {}
            if has_dev:
                raw_scores, raw_paths = _raw_output(est, dev_texts, hierarchy)
                stats = dict(getattr(est, "stats_", None) or {})
                if self.calibrate:
                    temps = fit_level_temperatures(raw_scores, hierarchy, dev_gold)
            self.temperatures_.append(temps)
            corrector = None
            if stage.get("corrector") == "crf":
                corrector = self._fit_corrector(k, est, texts, paths, raw_scores if has_dev else None, dev_gold)
            self.correctors_.append(corrector)
            if has_dev:
                self._report_dev(k, raw_scores, raw_paths, dev_gold, stats)
            if progress:
                progress(k + 1, len(self.stages))
        return self

    def _fit_corrector(self, k: int, est, texts, paths, dev_scores, dev_gold):
        from classifiers.engine.corrector import CRFCorrector

        if dev_scores is not None:
            scores, gold = dev_scores, dev_gold
        else:  # no dev split: the training documents (where the stage is over-confident, but it is all there is)
            scores, _ = _raw_output(est, list(texts), self.hierarchy_)
            gold = [p[0] if p else () for p in as_multi(paths)]
        scores = apply_temperatures(scores, self.temperatures_[k])
        return CRFCorrector().fit(scores, gold, self.hierarchy_)

    def _report_dev(self, k: int, raw_scores, raw_paths, gold: list[Path], stats: dict) -> None:
        _, paths_before, before, _ = self._decide(k, raw_scores, raw_paths, calibrated=False)
        _, paths, after, _ = self._decide(k, raw_scores, raw_paths, calibrated=True)
        correct_before = [tuple(p) == tuple(g) for p, g in zip(paths_before, gold, strict=True)]
        correct = [tuple(p) == tuple(g) for p, g in zip(paths, gold, strict=True)]
        self.calibration_.append(
            {
                "temperatures": [float(t) for t in self.temperatures_[k]],
                "ece_before": expected_calibration_error(before, correct_before),
                "ece_after": expected_calibration_error(after, correct),
                "dev_documents": len(gold),
            }
        )
        n = max(1, len(gold))
        self.dev_report_.append(
            {
                "confidence": [round(float(c), 6) for c in after],
                "correct": correct,
                "calls_per_doc": float(stats.get("calls", 0)) / n,
                "tokens_per_doc": float(stats.get("prompt_tokens", 0) + stats.get("completion_tokens", 0)) / n,
                "cost_per_doc": float(stats.get("cost", 0.0)) / n,
                "llm": {key: stats[key] for key in SUMMED_STATS if isinstance(stats.get(key), (int, float))},
            }
        )

    # ----- one stage -----
    def _decide(self, k: int, raw_scores, raw_paths, *, calibrated: bool = True):
        """(scores, paths, confidences, paths before the stage corrector) of stage k from its raw output."""
        scores = apply_temperatures(raw_scores, self.temperatures_[k]) if calibrated else raw_scores
        est = self.estimators_[k]
        if raw_paths is None:
            raw_paths = decode_scores(scores, self.hierarchy_, getattr(est, "decode", "best_path"))
        paths = raw_paths
        corrector = self.correctors_[k] if k < len(self.correctors_) else None
        if corrector is not None:
            paths, _ = corrector.correct(scores, original=raw_paths)
            paths = [tuple(int(n) for n in p) for p in paths]
        per_level = path_confidence(scores, self.hierarchy_, paths)
        agg = np.min if self.confidence == "min" else np.prod
        conf = np.array([float(agg(c)) if c else 0.0 for c in per_level])
        return scores, paths, conf, raw_paths

    # ----- predict -----
    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """Per-level (calibrated) scores of the stage that decided each document.

        Also sets, per document: stages_ (0-based stage, -1 for none), stage_names_, confidences_,
        needs_review_, paths_ (the deciding stage's path), corrected_from_ (the path before a stage
        corrector changed it, else None), valid_ and raw_outputs_; and stage_stats_ / stats_ (the LLM
        figures of the documents each stage saw). A repeat call on the same texts reuses the answers."""
        texts = list(texts)
        memo = self.__dict__.get("_runtime", {}).get("last")
        key = _digest(texts)
        if memo is not None and memo[0] == key:
            return memo[1]
        n = len(texts)
        h = self.hierarchy_
        out = [np.zeros((n, len(level))) for level in h.levels]
        self.stages_ = [-1] * n
        self.stage_names_ = [""] * n
        self.confidences_ = [0.0] * n
        self.needs_review_ = [False] * n
        self.paths_: list[Path] = [()] * n
        self.corrected_from_: list[Path | None] = [None] * n
        self.valid_ = [True] * n
        self.raw_outputs_ = [""] * n
        self.stage_stats_: list[dict[str, Any]] = []
        pending = list(range(n))
        for k, stage in enumerate(self.stages):
            est = self.estimators_[k]
            stats: dict[str, Any] = {"routed": len(pending), "decided": 0}
            if pending:
                sub = [texts[i] for i in pending]
                raw_scores, raw_paths = _raw_output(est, sub, h)
                stats.update(getattr(est, "stats_", None) or {})
                scores, paths, conf, before = self._decide(k, raw_scores, raw_paths)
                valid = _per_doc(est, "valid_", len(sub))
                raw_outputs = _per_doc(est, "raw_outputs_", len(sub))
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
                        self.stage_names_[i] = REVIEW if self.needs_review_[i] else stage_name(k, stage)
                        self.paths_[i] = tuple(paths[j])
                        if tuple(before[j]) != tuple(paths[j]):
                            self.corrected_from_[i] = tuple(before[j])
                        self.valid_[i] = bool(valid[j]) if valid is not None else True
                        self.raw_outputs_[i] = str(raw_outputs[j] or "") if raw_outputs is not None else ""
                        stats["decided"] += 1
                    else:
                        still.append(i)
                pending = still
            stats["review"] = sum(1 for i in range(n) if self.needs_review_[i] and self.stages_[i] == k)
            self.stage_stats_.append(stats)
            if progress:
                progress(k + 1, len(self.stages))
        summed = _summed([s for s in self.stage_stats_ if "calls" in s])
        if summed is None:
            self.__dict__.pop("stats_", None)  # no LLM stage: nothing for the run's LLM totals
        else:
            self.stats_ = summed
        self.__dict__.setdefault("_runtime", {})["last"] = (key, out)
        return out

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        """The path of the stage that decided each document (its decoding and corrector)."""
        self.predict_scores(texts, progress=progress)
        return [[p] if p else [] for p in self.paths_]

    # ----- persistence: each stage (and its corrector) in its own sub-folder -----
    def write_files(self, directory: FsPath) -> None:
        super().write_files(directory)
        for k, est in enumerate(self.estimators_):
            est.save(FsPath(directory) / f"stage{k}")
            if self.correctors_[k] is not None:
                self.correctors_[k].save(FsPath(directory) / f"stage{k}" / "corrector")

    def state_json(self) -> dict[str, Any]:
        return {"temperatures": self.temperatures_, "calibration": self.calibration_}

    def load_state(self, state: dict[str, Any], tensors, directory: FsPath) -> None:
        from classifiers.engine.corrector import CRFCorrector
        from classifiers.engine.registry import load_estimator

        self.temperatures_ = state["temperatures"]
        self.calibration_ = state.get("calibration") or []
        self.estimators_ = [load_estimator(FsPath(directory) / f"stage{k}") for k in range(len(self.stages))]
        self.correctors_ = [
            CRFCorrector.load(FsPath(directory) / f"stage{k}" / "corrector")
            if (FsPath(directory) / f"stage{k}" / "corrector").exists()
            else None
            for k in range(len(self.stages))
        ]


def _raw_output(est, texts: list[str], hierarchy: Hierarchy) -> tuple[list[np.ndarray], list[Path] | None]:
    """A stage's uncalibrated per-level scores, and its own paths when it decides them itself (LLMs)."""
    if type(est).predict is HierarchicalClassifier.predict:
        return [np.asarray(s, dtype=np.float64) for s in est.predict_scores(texts)], None
    paths = [p[0] if p else () for p in as_multi(est.predict(texts))]
    return [np.asarray(s, dtype=np.float64) for s in est.predict_scores(texts)], paths


def _per_doc(est, attribute: str, n: int) -> list | None:
    values = getattr(est, attribute, None)
    if values is None:
        return None
    values = list(values)
    return values if len(values) == n else None


def _summed(stats: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not stats:
        return None
    total: dict[str, Any] = {}
    for s in stats:
        for key in SUMMED_STATS:
            if isinstance(s.get(key), (int, float)):
                total[key] = total.get(key, 0) + s[key]
    return total


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(str(t).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()
