"""The estimator contract every strategy honours, and the decoders that turn per-level scores into paths.

Contract (scikit-learn style):
- `__init__` only stores its keyword arguments (so `get_params`, `clone` and grid search work);
- `fit(texts, paths, hierarchy, *, dev=None, progress=None)` returns self; learned state lives in
  attributes ending in `_` (always `hierarchy_`);
- `predict(texts, *, progress=None)` returns a list of paths per document (one path, or several
  for multi-path tasks); a path is a tuple of node indices of `hierarchy_`, level 1 first;
- `predict_scores(texts, *, progress=None)` returns one array per level, shape (n_docs, n_nodes at
  that level) in the order of `hierarchy_.levels[level]`, each row a probability distribution;
- `save(directory)` writes `config.json` (+ `tensors.safetensors`; subclasses extend `write_files`) into a
  directory that appears only when complete; `load(directory)` reads it back. Nothing is ever unpickled.

`progress(done, total)` is an optional callback; it may raise to cancel (`Cancelled`, or the caller's own
exception): the torch and embedding loops call it after every training step and every encoding batch. Work that
reports no progress of its own (a dev evaluation inside an epoch, a long scikit-learn fit) asks the callback's
`cancel_requested()`, when it has one, between its batches or iteration chunks (`raise_if_cancelled`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from classifiers.engine.atomic import atomic_directory
from classifiers.engine.hierarchy import Hierarchy, Path

ProgressFn = Callable[[int, int], None] | None


def progress_note(progress: ProgressFn, message: str, share: float | None = None) -> None:
    """Say what the next progress reports are about ("Encoding 1,200 documents") to a callback that listens
    (one with a `note(message, share)` method, such as the jobs' phased progress); plain callables ignore it.
    `share`: the part of what is left of the current phase these reports will cover (None: keep the step)."""
    note = getattr(progress, "note", None)
    if callable(note):
        note(message, share)


def raise_if_cancelled(progress: ProgressFn) -> None:
    """Raise Cancelled when the callback has a `cancel_requested()` that says a cancel was asked."""
    asked = getattr(progress, "cancel_requested", None)
    if callable(asked) and asked():
        raise Cancelled("cancel requested")


def cancel_checker(progress: ProgressFn) -> ProgressFn:
    """A callback for work inside a step (a dev evaluation, fits that choose a model): it moves no bar, it only
    stops (Cancelled) between batches once `progress` says a cancel was asked, and passes `cancel_requested` on.
    None when `progress` cannot say."""
    asked = getattr(progress, "cancel_requested", None)
    if not callable(asked):
        return None

    def check(done: int, total: int) -> None:
        raise_if_cancelled(progress)

    check.cancel_requested = asked  # type: ignore[attr-defined]
    return check


SCORE_EPS = 1e-12


class Cancelled(Exception):
    """The caller asked the engine to stop (a cancel check said so); what finished before is kept by the caller."""


class HierarchicalClassifier(BaseEstimator):
    """Base class: subclasses implement fit and predict_scores, and may override predict."""

    strategy_name: str = "base"
    # Capabilities (like scikit-learn's tags): the app reads these instead of keeping lists of strategy names.
    #: Learns nothing from labelled documents (an empty training split is fine).
    training_free: bool = False
    #: `classifiers.engine.growth` can update a fitted model for new labels.
    supports_growth: bool = False
    #: Gives per-level scores the CRF corrector can post-process (a run-level corrector is accepted).
    supports_corrector: bool = True
    #: `predict` may return several paths for one document.
    multi_path: bool = False
    #: Runs a torch model (encoders, fine-tuning).
    uses_torch: bool = False
    #: Calls an LLM endpoint (the app points it at the project's endpoint before it fits or predicts).
    calls_llm: bool = False
    #: Its per-level scores are a distribution over paths, so a multi-path project can fit a path threshold on them.
    fits_path_threshold: bool = True
    #: "argmax" (independent per level), "top_down" or "best_path" (best valid path by summed log-scores)
    decode: str = "best_path"

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        raise NotImplementedError

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        raise NotImplementedError

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[list[Path]]:
        scores = self.predict_scores(texts, progress=progress)
        return [[p] for p in decode_scores(scores, self.hierarchy_, getattr(self, "decode", "best_path"))]

    # ----- persistence -----
    def config(self) -> dict[str, Any]:
        """JSON-safe configuration: strategy name, parameters and the hierarchy."""
        return {
            "strategy": self.strategy_name,
            "params": self.get_params(deep=False),
            "hierarchy": self.hierarchy_.to_dict(),
        }

    def save(self, directory: str | FsPath) -> None:
        """Write the model into `directory`, which appears only once complete (see engine/atomic.py)."""
        with atomic_directory(directory) as tmp:
            self.write_files(tmp)

    def write_files(self, directory: FsPath) -> None:
        """Write config.json (+ tensors) into an existing directory; subclasses add their sub-folders here."""
        write_json_atomic(directory / "config.json", {**self.config(), "state": self.state_json()})
        tensors = self.state_tensors()
        if tensors:
            save_tensors_atomic(directory / "tensors.safetensors", tensors)

    @classmethod
    def load(cls, directory: str | FsPath):
        directory = FsPath(directory)
        config = json.loads((directory / "config.json").read_text())
        est = cls(**config["params"])
        est.hierarchy_ = Hierarchy.from_dict(config["hierarchy"])
        tensor_file = directory / "tensors.safetensors"
        tensors = load_tensors(tensor_file) if tensor_file.exists() else {}
        est.load_state(config.get("state") or {}, tensors, directory)
        return est

    def state_json(self) -> dict[str, Any]:
        """Learned state that is not a tensor (vocabularies, class lists)."""
        return {}

    def state_tensors(self) -> dict[str, np.ndarray]:
        """Learned arrays, saved with safetensors."""
        return {}

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        raise NotImplementedError


# ----- decoders -----
def decode_scores(scores: list[np.ndarray], hierarchy: Hierarchy, mode: str = "best_path") -> list[Path]:
    if mode == "argmax":
        return decode_argmax(scores, hierarchy)
    if mode == "top_down":
        return decode_top_down(scores, hierarchy)
    if mode == "best_path":
        return decode_best_path(scores, hierarchy)
    raise ValueError(f"unknown decoding mode {mode!r}")


def decode_argmax(scores: list[np.ndarray], hierarchy: Hierarchy) -> list[Path]:
    """Independent argmax per level (HierVerb's default): may yield inconsistent paths.

    Levels below a predicted leaf are dropped, so a ragged tree gives ragged predictions."""
    n = scores[0].shape[0] if scores else 0
    best = [hierarchy_levels_argmax(s, hierarchy.levels[d]) for d, s in enumerate(scores)]
    out = []
    for i in range(n):
        path: list[int] = []
        for d in range(len(scores)):
            node = best[d][i]
            path.append(node)
            if hierarchy.is_leaf(node):
                break
        out.append(tuple(path))
    return out


def hierarchy_levels_argmax(level_scores: np.ndarray, level_nodes: list[int]) -> list[int]:
    return [level_nodes[j] for j in np.asarray(level_scores).argmax(axis=1)]


def decode_top_down(scores: list[np.ndarray], hierarchy: Hierarchy) -> list[Path]:
    """Greedy: best top-level node, then the best of its children, and so on."""
    n = scores[0].shape[0] if scores else 0
    out = []
    for i in range(n):
        candidates = hierarchy.levels[0]
        path: list[int] = []
        d = 0
        while candidates and d < len(scores):
            row = scores[d][i]
            node = max(candidates, key=lambda c: row[hierarchy.level_pos[c]])
            path.append(node)
            candidates = hierarchy.children[node]
            d += 1
        out.append(tuple(path))
    return out


def path_score_matrix(scores: list[np.ndarray], hierarchy: Hierarchy) -> tuple[np.ndarray, list[Path]]:
    """Summed log-scores of every root-to-leaf path: (n_docs, n_paths) and the paths."""
    paths = hierarchy.leaf_paths()
    n = scores[0].shape[0] if scores else 0
    logs = [np.log(np.clip(np.asarray(s, dtype=np.float64), SCORE_EPS, None)) for s in scores]
    total = np.zeros((n, len(paths)))
    for k, path in enumerate(paths):
        for d, node in enumerate(path):
            if d < len(logs):
                total[:, k] += logs[d][:, hierarchy.level_pos[node]]
    # Plain sums, also for ragged paths: on the 2-5 level 20 Newsgroups tree the sum beat the per-level mean
    # clearly (P-Micro-F1 42.8 against 34.8 for tfidf at K=16), because a level with few nodes has
    # confident scores that the mean would over-weight.
    return total, paths


def decode_best_path(scores: list[np.ndarray], hierarchy: Hierarchy) -> list[Path]:
    """The valid root-to-leaf path with the best summed log-score: always consistent."""
    total, paths = path_score_matrix(scores, hierarchy)
    return [paths[j] for j in total.argmax(axis=1)] if len(paths) else []


def path_confidence(scores: list[np.ndarray], hierarchy: Hierarchy, paths: Sequence[Path]) -> list[list[float]]:
    """Per-level score of each predicted node (the confidence shown to reviewers)."""
    out = []
    for i, path in enumerate(paths):
        out.append(
            [float(scores[d][i, hierarchy.level_pos[node]]) if d < len(scores) else 0.0 for d, node in enumerate(path)]
        )
    return out


# ----- safe persistence helpers -----
def write_json_atomic(path: FsPath, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=_json_default))
    tmp.replace(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def save_tensors_atomic(path: FsPath, tensors: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp))
    tmp.replace(path)


def load_tensors(path: FsPath) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))
