"""CRF correction of any strategy's per-level scores: the best *valid* path per document.

The corrector is a CRF over the chain of levels whose only permitted transitions are the taxonomy's
parent -> child edges, so its label sequences are exactly the root-to-leaf paths. The score of a path p is

    score(p) = sum_{d < len(p)} w_d * log s_d[p_d]  +  sum_{d < len(p)} b[p_d]

- `w_d` (`level_weight_`) is a per-level emission scale: how much to trust each level's scores;
- `b[n]` (`node_bias_`) is the transition bonus (or penalty) for entering node n from its parent.

Unfitted (w = 1, b = 0) this is plain constrained decoding: the argmax of the summed log-scores over the
leaf paths. On a ragged tree a shorter path sums fewer levels; on 20 Newsgroups' 2-5-level tree this plain sum
beat both the per-level mean (`base.decode_best_path`) and greedy top-down decoding with the baselines' scores
(see benchmarks/crf_bench.py), and a fitted corrector learns its own per-node balance anyway.
`fit` learns w and b by the negative log-likelihood of the gold paths under a softmax over all leaf paths, with
an L2 pull towards the unfitted values. The objective is convex, so L-BFGS finds its optimum in a few dozen
iterations, deterministically and without threads. Everything is exact: every leaf path is scored, no beam.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.atomic import atomic_directory
from classifiers.engine.base import SCORE_EPS, decode_argmax, load_tensors, save_tensors_atomic, write_json_atomic
from classifiers.engine.hierarchy import Hierarchy, Path

CONFIG_FILE = "corrector.json"
TENSOR_FILE = "corrector.safetensors"
# Upper bound on levels x documents x paths held at once, to bound memory on large taxonomies.
_CELL_BUDGET = 4_000_000


class CRFCorrector:
    """Learns per-level emission scales and per-node transition bonuses; decodes the best valid path."""

    def __init__(self, *, max_iter: int = 200, l2: float = 1e-3, max_train_docs: int = 20_000, seed: int = 0):
        self.max_iter = max_iter
        self.l2 = l2
        self.max_train_docs = max_train_docs
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("max_iter", "l2", "max_train_docs", "seed")}

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "hierarchy_")

    # ----- learning -----
    def fit(self, level_scores: Sequence[np.ndarray], gold_paths: Sequence, hierarchy: Hierarchy) -> CRFCorrector:
        """Learn from a strategy's scores on labelled documents; returns self.

        `gold_paths` holds one path per document (a tuple of node indices of `hierarchy`, or a list of paths
        of which the first is used). Documents whose gold path is not a root-to-leaf path are skipped; a
        seeded sample of `max_train_docs` (fewer on very large taxonomies) bounds memory."""
        from scipy.optimize import minimize

        logs = _log_scores(level_scores, hierarchy)
        table = _PathTable(hierarchy)
        targets, rows = [], []
        for i, gold in enumerate(gold_paths):
            if gold and isinstance(gold[0], (list, tuple)):
                gold = gold[0]
            j = table.position.get(tuple(int(n) for n in gold)) if gold else None
            if j is not None:
                rows.append(i)
                targets.append(j)
        limit = min(self.max_train_docs, max(1, _CELL_BUDGET // max(1, table.n_levels * table.n_paths)))
        if len(rows) > limit:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(rows), size=limit, replace=False))
            rows, targets = [rows[k] for k in keep], [targets[k] for k in keep]

        n_levels, n_nodes = hierarchy.n_levels, len(hierarchy)
        x0 = np.concatenate([np.ones(n_levels), np.zeros(n_nodes)])
        report: dict[str, Any] = {"documents": len(rows), "skipped": len(gold_paths) - len(rows), "iterations": 0}
        weight, bias = x0[:n_levels].copy(), x0[n_levels:].copy()
        if rows:
            gathered = table.gather([lg[rows] for lg in logs])  # [D, n, P]
            target = np.asarray(targets)
            onehot = np.zeros((len(rows), table.n_paths))
            onehot[np.arange(len(rows)), target] = 1.0

            def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
                scores = table.combine(gathered, x[:n_levels], x[n_levels:])
                scores -= scores.max(1, keepdims=True)
                log_z = np.log(np.exp(scores).sum(1))
                nll = float(np.mean(log_z - scores[np.arange(len(target)), target]))
                diff = (np.exp(scores - log_z[:, None]) - onehot) / len(target)  # d mean-NLL / d score
                grad_w = np.einsum("dnp,np->d", gathered, diff)
                grad_b = table.members.T @ diff.sum(0)
                delta = x - x0
                return nll + self.l2 * float(delta @ delta), np.concatenate([grad_w, grad_b]) + 2 * self.l2 * delta

            report["loss_start"] = objective(x0)[0]
            result = minimize(objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": int(self.max_iter)})
            weight, bias = result.x[:n_levels], result.x[n_levels:]
            report.update(loss_end=float(result.fun), iterations=int(result.nit), converged=bool(result.success))
        self.hierarchy_ = hierarchy
        self.level_weight_ = np.asarray(weight, dtype=np.float64)
        self.node_bias_ = np.asarray(bias, dtype=np.float64)
        self.fit_report_ = report
        return self

    # ----- decoding -----
    def path_scores(
        self, level_scores: Sequence[np.ndarray], hierarchy: Hierarchy | None = None
    ) -> tuple[np.ndarray, list[Path]]:
        """Score of every leaf path per document: (`[n_docs, n_paths]` array, the paths)."""
        hierarchy = self._hierarchy(hierarchy)
        logs = _log_scores(level_scores, hierarchy)
        table = _PathTable(hierarchy)
        weight = getattr(self, "level_weight_", np.ones(hierarchy.n_levels))
        bias = getattr(self, "node_bias_", np.zeros(len(hierarchy)))
        n = logs[0].shape[0]
        chunk = max(1, _CELL_BUDGET // max(1, table.n_levels * table.n_paths))
        out = np.empty((n, table.n_paths))
        for lo in range(0, n, chunk):
            out[lo : lo + chunk] = table.combine(table.gather([lg[lo : lo + chunk] for lg in logs]), weight, bias)
        return out, table.paths

    def correct(
        self,
        level_scores: Sequence[np.ndarray],
        hierarchy: Hierarchy | None = None,
        *,
        original: Sequence[Path] | None = None,
    ) -> tuple[list[Path], np.ndarray]:
        """The best valid path per document and a bool array `[n_docs]`, True where the path was changed.

        "Changed" compares with `original` (what the strategy predicted) when given, otherwise with the
        independent per-level argmax of the scores. `hierarchy` is needed only when the corrector is unfitted."""
        hierarchy = self._hierarchy(hierarchy)
        scores, paths = self.path_scores(level_scores, hierarchy)
        best = [paths[j] for j in scores.argmax(axis=1)] if paths else []
        before = list(original) if original is not None else decode_argmax(list(level_scores), hierarchy)
        if len(before) != len(best):
            raise ValueError("original must hold one path per document")
        changed = np.array([tuple(a) != tuple(b) for a, b in zip(best, before, strict=True)], dtype=bool)
        return best, changed

    def _hierarchy(self, hierarchy: Hierarchy | None) -> Hierarchy:
        if self.is_fitted:
            if hierarchy is not None and hierarchy.to_dict() != self.hierarchy_.to_dict():
                raise ValueError("the corrector was fitted on a different hierarchy")
            return self.hierarchy_
        if hierarchy is None:
            raise ValueError("an unfitted corrector needs the hierarchy")
        return hierarchy

    # ----- persistence -----
    def save(self, directory: str | FsPath) -> None:
        """Write `corrector.json` (parameters, hierarchy, fit report) and `corrector.safetensors`."""
        if not self.is_fitted:
            raise ValueError("fit the corrector before saving it")
        config = {"params": self.get_params(), "hierarchy": self.hierarchy_.to_dict(), "fit_report": self.fit_report_}
        with atomic_directory(directory) as tmp:  # the folder appears only once complete
            write_json_atomic(tmp / CONFIG_FILE, config)
            save_tensors_atomic(tmp / TENSOR_FILE, {"level_weight": self.level_weight_, "node_bias": self.node_bias_})

    @classmethod
    def load(cls, directory: str | FsPath) -> CRFCorrector:
        """Read a corrector written by `save`; returns the fitted corrector."""
        directory = FsPath(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        out = cls(**config["params"])
        out.hierarchy_ = Hierarchy.from_dict(config["hierarchy"])
        tensors = load_tensors(directory / TENSOR_FILE)
        out.level_weight_ = np.asarray(tensors["level_weight"], dtype=np.float64)
        out.node_bias_ = np.asarray(tensors["node_bias"], dtype=np.float64)
        if out.level_weight_.shape != (out.hierarchy_.n_levels,) or out.node_bias_.shape != (len(out.hierarchy_),):
            raise ValueError("corrector tensors do not match its hierarchy")
        out.fit_report_ = config.get("fit_report") or {}
        return out


class _PathTable:
    """The leaf paths of a hierarchy as index arrays, to score all of them at once."""

    def __init__(self, hierarchy: Hierarchy) -> None:
        self.paths = hierarchy.leaf_paths()
        self.position = {p: j for j, p in enumerate(self.paths)}
        self.n_levels, self.n_paths = hierarchy.n_levels, len(self.paths)
        self.index = np.zeros((self.n_levels, self.n_paths), dtype=np.int64)
        self.present = np.zeros((self.n_levels, self.n_paths))
        self.members = np.zeros((self.n_paths, len(hierarchy)))
        for j, path in enumerate(self.paths):
            for d, node in enumerate(path):
                self.index[d, j] = hierarchy.level_pos[node]
                self.present[d, j] = 1.0
                self.members[j, node] = 1.0

    def gather(self, logs: list[np.ndarray]) -> np.ndarray:
        """Per-level log-score of each path's node: `[D, n_docs, n_paths]` (0 below a short path's end)."""
        return np.stack([lg[:, self.index[d]] * self.present[d] for d, lg in enumerate(logs)])

    def combine(self, gathered: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        """Path scores `[n_docs, n_paths]` from the gathered log-scores, the level weights and the node biases."""
        return np.einsum("dnp,d->np", gathered, weight) + self.members @ bias


def _log_scores(level_scores: Sequence[np.ndarray], hierarchy: Hierarchy) -> list[np.ndarray]:
    """Validated log of per-level scores (one array per level of `hierarchy`, in `levels` order)."""
    if len(level_scores) != hierarchy.n_levels:
        raise ValueError(f"expected scores for {hierarchy.n_levels} levels, got {len(level_scores)}")
    out = []
    n = None
    for d, scores in enumerate(level_scores):
        arr = np.asarray(scores, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(hierarchy.levels[d]):
            raise ValueError(f"level {d + 1} scores must be [n_docs, {len(hierarchy.levels[d])}]")
        if n is not None and arr.shape[0] != n:
            raise ValueError("every level must score the same documents")
        n = arr.shape[0]
        out.append(np.log(np.clip(arr, SCORE_EPS, None)))
    return out
