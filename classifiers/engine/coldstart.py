"""Cold start from the taxonomy alone (TELEClass-style): term mining, pseudo-labels, a weak pipeline.

1. `mine_terms`: for every node, terms that separate the documents it likely holds (by the zero-shot
   per-level scores, as soft weights) from the documents of its siblings.
2. `select_pseudo_labels`: documents whose zero-shot path confidence is at least `threshold`.
3. `WeakSupervisionClassifier`: zero-shot (label texts enriched with mined terms) -> pseudo-labels ->
   a supervised base strategy ("embed", "tfidf" or "hierverb") trained on them.
"""

from __future__ import annotations

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


class WeakSupervisionClassifier(HierarchicalClassifier):
    """Zero labels: `fit(texts, paths, hierarchy)` ignores `paths` and learns only from the unlabeled texts.

    Steps: zero-shot scores -> (enrich) mined terms appended to label texts and zero-shot rerun ->
    pseudo-labels above `threshold` (when fewer than `min_fraction` of the documents pass, the most confident
    `min_fraction` instead) -> `base` strategy trained on them. `scorer` names the zero-shot
    strategy (it must accept a `label_texts` parameter). `pseudo_labelled_` lists the
    indices of pseudo-labelled documents, `terms_` the mined terms per node."""

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
    ):
        self.base = base
        self.base_params = base_params
        self.threshold = threshold
        self.enrich = enrich
        self.top_k_terms = top_k_terms
        self.min_fraction = min_fraction
        self.zeroshot_params = zeroshot_params
        self.scorer = scorer

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
        keep, pseudo, _ = select_pseudo_labels(scores, hierarchy, threshold=self.threshold)
        if len(keep) < max(2, int(self.min_fraction * len(texts))):
            all_idx, all_paths, conf = select_pseudo_labels(scores, hierarchy, threshold=0.0)
            order = np.argsort(-np.asarray(conf))[: max(2, int(self.min_fraction * len(texts)))]
            keep = sorted(int(i) for i in order)
            pseudo = [all_paths[i] for i in keep]
        self.pseudo_labelled_ = keep
        self.pseudo_paths_ = pseudo
        self.estimator_ = make_strategy(self.base, **(self.base_params or {}))
        self.estimator_.fit([texts[i] for i in keep], [[p] for p in pseudo], hierarchy, progress=progress)
        return self

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        return self.estimator_.predict_scores(texts, progress=progress)

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        return self.estimator_.predict(texts, progress=progress)

    def write_files(self, directory: FsPath) -> None:
        super().write_files(directory)
        self.estimator_.save(FsPath(directory) / "base")

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
