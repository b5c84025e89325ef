"""Cold start from the taxonomy alone (TELEClass-style): term mining, pseudo-labels, a weak pipeline.

1. `mine_terms`: for every node, terms that separate the documents it likely holds (by the zero-shot
   per-level scores, as soft weights) from the documents of its siblings.
2. `select_pseudo_labels`: documents whose zero-shot path confidence is at least `threshold`;
   `select_pseudo_labels_per_class` also keeps the most confident share of every predicted path.
3. `WeakSupervisionClassifier`: zero-shot (label texts enriched with mined terms) -> pseudo-labels ->
   a supervised base strategy ("embed", "tfidf" or "hierverb") trained on them; its scores are blended
   with the enriched zero-shot scores at prediction time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn, decode_scores, path_confidence
from classifiers.engine.baselines import sibling_groups
from classifiers.engine.hierarchy import Hierarchy, Path


def node_weights(scores: list[np.ndarray], hierarchy: Hierarchy) -> np.ndarray:
    """(n_docs, n_nodes) soft membership of each document in each node, from per-level scores."""
    n = scores[0].shape[0] if scores else 0
    w = np.zeros((n, len(hierarchy)))
    for d, level in enumerate(hierarchy.levels):
        if d < len(scores):
            w[:, level] = scores[d]
    return w


def mine_terms(
    texts: Sequence[str], scores: list[np.ndarray], hierarchy: Hierarchy, *, top_k: int = 10, min_df: int = 2
) -> dict[int, list[str]]:
    """Class-indicative terms per node: returns {node index: up to top_k terms, most distinctive first}.

    A term's score for a node is its weighted document frequency among the node's likely documents
    times the log-ratio against its siblings' (weights = per-level scores)."""
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        vec = CountVectorizer(stop_words="english", min_df=min_df, binary=True, token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
        X = vec.fit_transform(texts).astype(np.float64)
    except ValueError:
        return {v: [] for v in range(len(hierarchy))}
    vocab = np.asarray(vec.get_feature_names_out())
    W = node_weights(scores, hierarchy)
    # weighted document frequency of each term per node: (n_nodes, n_terms)
    df = np.asarray((X.T @ W).T) / np.clip(W.sum(axis=0), 1e-9, None)[:, None]
    out: dict[int, list[str]] = {}
    for _, children in sibling_groups(hierarchy):
        for c in children:
            others = [s for s in children if s != c]
            rest = df[others].mean(axis=0) if others else np.zeros(df.shape[1])
            score = df[c] * np.log((df[c] + 1e-3) / (rest + 1e-3))
            order = np.argsort(-score)[:top_k]
            out[c] = [str(vocab[j]) for j in order if score[j] > 0]
    return out


def select_pseudo_labels(
    scores: list[np.ndarray], hierarchy: Hierarchy, *, threshold: float, decode: str = "top_down"
) -> tuple[list[int], list[Path], list[float]]:
    """Confident zero-shot assignments: returns (document indices, their paths, their confidences),
    keeping documents whose path confidence (product of per-level scores) is >= threshold."""
    paths = decode_scores(scores, hierarchy, decode)
    conf = [float(np.prod(c)) if c else 0.0 for c in path_confidence(scores, hierarchy, paths)]
    keep = [i for i, c in enumerate(conf) if c >= threshold]
    return keep, [paths[i] for i in keep], [conf[i] for i in keep]


def select_pseudo_labels_per_class(
    scores: list[np.ndarray], hierarchy: Hierarchy, *, threshold: float, min_fraction: float, decode: str = "top_down"
) -> tuple[list[int], list[Path], list[float]]:
    """Like `select_pseudo_labels`, but every predicted path also keeps its most confident
    ceil(min_fraction x its documents), so no class loses all its pseudo-labels to more confident ones.
    Returns (document indices sorted, their paths, their confidences)."""
    paths = decode_scores(scores, hierarchy, decode)
    conf = [float(np.prod(c)) if c else 0.0 for c in path_confidence(scores, hierarchy, paths)]
    keep = {i for i, c in enumerate(conf) if c >= threshold}
    members: dict[Path, list[int]] = {}
    for i, p in enumerate(paths):
        members.setdefault(p, []).append(i)
    for docs in members.values():
        docs.sort(key=lambda i: -conf[i])
        keep.update(docs[: math.ceil(max(min_fraction, 0.0) * len(docs))])
    order = sorted(keep)
    return order, [paths[i] for i in order], [conf[i] for i in order]


class WeakSupervisionClassifier(HierarchicalClassifier):
    """Zero labels: `fit(texts, paths, hierarchy)` ignores `paths` and learns only from the unlabeled texts.

    Steps: zero-shot scores -> (enrich) mined terms appended to label texts and zero-shot rerun ->
    pseudo-labels -> `base` strategy trained on them. `selection="per_class"` keeps documents above
    `threshold` plus the most confident `min_fraction` of each predicted path; `"global"` keeps those above
    `threshold`, or when fewer than `min_fraction` of all documents pass, the most confident `min_fraction`.
    Predicted scores are (1 - blend) x base + blend x the enriched zero-shot scorer (blend=0: base only).
    `scorer` names the zero-shot strategy (it must accept a `label_texts` parameter). `pseudo_labelled_`
    lists the indices of pseudo-labelled documents, `terms_` the mined terms per node."""

    strategy_name = "weak"

    def __init__(
        self,
        base: str = "embed",
        base_params: dict | None = None,
        threshold: float = 0.5,
        enrich: bool = True,
        top_k_terms: int = 8,
        min_fraction: float = 0.2,
        zeroshot_params: dict | None = None,
        scorer: str = "zeroshot",
        selection: str = "per_class",
        blend: float = 0.5,
    ):
        self.base = base
        self.base_params = base_params
        self.threshold = threshold
        self.enrich = enrich
        self.top_k_terms = top_k_terms
        self.min_fraction = min_fraction
        self.zeroshot_params = zeroshot_params
        self.scorer = scorer
        self.selection = selection
        self.blend = blend

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Train on pseudo-labels; `paths` is ignored (cold start, 0 labels). Returns self."""
        from classifiers.engine.registry import make_strategy

        texts = list(texts)
        self.hierarchy_ = hierarchy
        zp = dict(self.zeroshot_params or {})
        zs = make_strategy(self.scorer, **zp).fit([], [], hierarchy)
        scores = zs.predict_scores(texts)
        self.terms_: dict[int, list[str]] = {}
        if self.enrich:
            self.terms_ = mine_terms(texts, scores, hierarchy, top_k=self.top_k_terms)
            label_texts = {**(zp.get("label_texts") or {})}
            for node, terms in self.terms_.items():
                if terms:
                    label_texts[node] = ", ".join(terms)
            zs = make_strategy(self.scorer, **{**zp, "label_texts": label_texts}).fit([], [], hierarchy)
            scores = zs.predict_scores(texts)
        if self.selection not in ("per_class", "global"):
            raise ValueError(f"selection must be 'per_class' or 'global', not {self.selection!r}")
        self.scorer_ = zs
        if self.selection == "per_class":
            keep, pseudo, _ = select_pseudo_labels_per_class(
                scores, hierarchy, threshold=self.threshold, min_fraction=self.min_fraction
            )
        else:
            keep, pseudo, _ = select_pseudo_labels(scores, hierarchy, threshold=self.threshold)
        if self.selection == "global" and len(keep) < max(2, int(self.min_fraction * len(texts))):
            all_idx, all_paths, conf = select_pseudo_labels(scores, hierarchy, threshold=0.0)
            order = np.argsort(-np.asarray(conf))[: max(2, int(self.min_fraction * len(texts)))]
            keep = sorted(int(i) for i in order)
            pseudo = [all_paths[i] for i in keep]
        self.pseudo_labelled_ = keep
        self.pseudo_paths_ = pseudo
        self.estimator_ = make_strategy(self.base, **(self.base_params or {}))
        self.estimator_.fit([texts[i] for i in keep], [[p] for p in pseudo], hierarchy, progress=progress)
        return self

    def _blending(self) -> bool:
        return float(self.blend or 0.0) > 0 and getattr(self, "scorer_", None) is not None

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        base = self.estimator_.predict_scores(texts, progress=progress)
        if not self._blending():
            return base
        b = float(self.blend)
        zs = self.scorer_.predict_scores(texts)
        return [(1 - b) * s + b * z for s, z in zip(base, zs, strict=True)]

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        if not self._blending():
            return self.estimator_.predict(texts, progress=progress)
        scores = self.predict_scores(texts, progress=progress)
        return [[p] for p in decode_scores(scores, self.hierarchy_, getattr(self.estimator_, "decode", "top_down"))]

    def save(self, directory: str | FsPath) -> None:
        super().save(directory)
        self.estimator_.save(FsPath(directory) / "base")
        if getattr(self, "scorer_", None) is not None:
            self.scorer_.save(FsPath(directory) / "scorer")

    def state_json(self) -> dict[str, Any]:
        return {
            "pseudo_labelled": [int(i) for i in self.pseudo_labelled_],
            "terms": {str(k): v for k, v in self.terms_.items()},
        }

    def load_state(self, state: dict[str, Any], tensors, directory: FsPath) -> None:
        from classifiers.engine.registry import load_estimator

        self.pseudo_labelled_ = list(state["pseudo_labelled"])
        self.terms_ = {int(k): v for k, v in state["terms"].items()}
        self.estimator_ = load_estimator(FsPath(directory) / "base")
        scorer_dir = FsPath(directory) / "scorer"
        self.scorer_ = load_estimator(scorer_dir) if (scorer_dir / "config.json").exists() else None
