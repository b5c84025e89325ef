"""Several paths per document from any strategy: a threshold on path probabilities fitted on dev.

`PathSelector` reads a distribution over the root-to-leaf paths (from any strategy's per-level scores,
`ensemble.path_log_proba`, or its exact path probabilities) and keeps, per document, every path whose
probability reaches the threshold, at least one (the most probable) and at most `max_paths` (the most probable
first). The threshold is fitted on dev to maximise the example-based F1 of the path sets; a global one, and, for
each level where dev has at least `min_level_documents` documents with a gold path ending there (ragged trees),
one for the paths ending at that level (kept only where it beats the global one on those documents).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifiers.engine.hierarchy import Hierarchy, Path, as_multi

GRID = np.unique(np.concatenate([np.linspace(0.02, 0.98, 49), [0.01, 0.005, 0.99]]))


def example_f1(pred: Sequence[Sequence[Path]], gold: Sequence[Sequence[Path]]) -> float:
    """Mean over documents of the F1 between the predicted and the gold sets of paths."""
    scores = []
    for p, g in zip(pred, gold, strict=True):
        ps, gs = {tuple(x) for x in p}, {tuple(x) for x in g}
        scores.append(2 * len(ps & gs) / (len(ps) + len(gs)) if ps or gs else 1.0)
    return float(np.mean(scores)) if scores else 0.0


class PathSelector:
    def __init__(self, max_paths: int = 3, min_level_documents: int = 20):
        self.max_paths = max_paths
        self.min_level_documents = min_level_documents
        self.threshold = 0.5
        self.level_thresholds: dict[int, float] = {}
        self.report: dict = {}

    def _thresholds(self, paths: Sequence[Path], global_t: float, per_level: dict[int, float]) -> np.ndarray:
        return np.array([per_level.get(len(p), global_t) for p in paths])

    def select(self, path_proba: np.ndarray, hierarchy: Hierarchy) -> list[list[Path]]:
        leaf_paths = hierarchy.leaf_paths()
        t = self._thresholds(leaf_paths, self.threshold, self.level_thresholds)
        return self._select(np.asarray(path_proba, dtype=np.float64), leaf_paths, t)

    def _select(self, proba: np.ndarray, leaf_paths: Sequence[Path], t: np.ndarray) -> list[list[Path]]:
        out = []
        order = np.argsort(-proba, axis=1)
        k = max(1, int(self.max_paths))
        for i in range(proba.shape[0]):
            chosen = [int(order[i, 0])] if proba.shape[1] else []
            for j in order[i, 1:k]:
                if proba[i, j] >= t[j]:
                    chosen.append(int(j))
            out.append([tuple(leaf_paths[j]) for j in chosen])
        return out

    def fit(self, path_proba: np.ndarray, gold: Sequence, hierarchy: Hierarchy) -> PathSelector:
        proba = np.asarray(path_proba, dtype=np.float64)
        gold = as_multi(gold)
        leaf_paths = hierarchy.leaf_paths()
        if not len(gold):
            self.report = {"documents": 0, "threshold": self.threshold}
            return self

        def score(global_t, per_level):
            pred = self._select(proba, leaf_paths, self._thresholds(leaf_paths, global_t, per_level))
            return example_f1(pred, gold)

        results = [(score(t, {}), -abs(t - 0.5), t) for t in GRID]
        best = max(results)
        self.threshold = float(best[2])
        per_level: dict[int, float] = {}
        depths = sorted({len(p) for p in leaf_paths})
        if len(depths) > 1:
            for depth in depths:
                docs = [i for i, g in enumerate(gold) if any(len(p) == depth for p in g)]
                if len(docs) < self.min_level_documents:
                    continue
                sub_proba, sub_gold = proba[docs], [gold[i] for i in docs]

                def sub_score(t, depth=depth, sub_proba=sub_proba, sub_gold=sub_gold):
                    levels = {**per_level, depth: t}
                    pred = self._select(sub_proba, leaf_paths, self._thresholds(leaf_paths, self.threshold, levels))
                    return example_f1(pred, sub_gold)

                base = sub_score(self.threshold)
                level_best = max((sub_score(t), -abs(t - self.threshold), t) for t in GRID)
                if level_best[0] > base:
                    per_level[depth] = float(level_best[2])
        self.level_thresholds = per_level
        fitted = self._select(proba, leaf_paths, self._thresholds(leaf_paths, self.threshold, per_level))
        self.report = {
            "documents": len(gold),
            "threshold": self.threshold,
            "level_thresholds": {str(k): v for k, v in per_level.items()},
            "max_paths": int(self.max_paths),
            "dev_example_f1": example_f1(fitted, gold),
            "dev_example_f1_one_path": example_f1([p[:1] for p in fitted], gold),
        }
        return self

    def to_dict(self) -> dict:
        return {
            "max_paths": int(self.max_paths),
            "min_level_documents": int(self.min_level_documents),
            "threshold": float(self.threshold),
            "level_thresholds": {str(k): float(v) for k, v in self.level_thresholds.items()},
            "report": self.report,
        }

    @classmethod
    def from_dict(cls, data: dict) -> PathSelector:
        sel = cls(max_paths=int(data["max_paths"]), min_level_documents=int(data.get("min_level_documents", 20)))
        sel.threshold = float(data["threshold"])
        sel.level_thresholds = {int(k): float(v) for k, v in (data.get("level_thresholds") or {}).items()}
        sel.report = dict(data.get("report") or {})
        return sel


def path_proba_from_scores(scores: Sequence[np.ndarray], hierarchy: Hierarchy) -> np.ndarray:
    """(n_docs, n_leaf_paths) path probabilities from any strategy's per-level scores."""
    from classifiers.engine.ensemble import path_log_proba

    return np.exp(path_log_proba([np.asarray(s, dtype=np.float64) for s in scores], hierarchy))


def fit_selector(estimator, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy) -> PathSelector:
    """A PathSelector for a fitted strategy, on (dev) documents; N = the most gold paths a document has (>= 2)."""
    gold = as_multi(paths)
    max_paths = max([2, *(len(g) for g in gold)])
    scores = (
        estimator.predict_scores(list(texts)) if len(texts) else [np.zeros((0, len(lv))) for lv in hierarchy.levels]
    )
    return PathSelector(max_paths=max_paths).fit(path_proba_from_scores(scores, hierarchy), gold, hierarchy)
