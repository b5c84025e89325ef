"""Baselines: logistic regression on TF-IDF or on sentence embeddings, local per parent node or flat.

`mode="local"` (hiclass-style, tfidf always): for the root and every internal node with at least two
children, a multinomial logistic regression chooses among the children, trained on the documents under
that node; a node with a single child always passes to it. The conditional probabilities multiply down
the tree into per-level scores (`conditionals_to_levels`), which the zero-shot strategy reuses.

`mode="flat"` (the embed default): one logistic regression over the gold paths seen in training (leaf
paths, or a shorter path a document stops at); the level-d score of a node is the probability of the
best path through it, renormalised per level (see flat_paths.py), so top-down decoding returns the most
probable path. A growth update adds local classifiers for the changed groups on top (`flat_groups_`). With few documents per leaf it beats the local classifiers (see EmbeddingLocalClassifier):
the local root classifier sees a few documents per class with skewed class sizes (on 20 Newsgroups comp
has 5 leaves, alt 1) and its errors compound top-down.

Learned weights are kept as plain arrays (coef / intercept / children) so saving needs only JSON and
safetensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn
from classifiers.engine.flat_paths import (
    ROOT,
    apply_group_overrides,
    node_prob_to_levels,
    path_training_rows,
    paths_to_levels,
)
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi


# ----- shared tree arithmetic -----
def sibling_groups(hierarchy: Hierarchy) -> list[tuple[int, list[int]]]:
    """(parent, children) for the root (parent -1) and every internal node, top-down."""
    groups = [(ROOT, list(hierarchy.levels[0]) if hierarchy.levels else [])]
    for level in hierarchy.levels:
        groups += [(v, list(hierarchy.children[v])) for v in level if hierarchy.children[v]]
    return groups


def conditionals_to_levels(conditionals: dict[int, np.ndarray], hierarchy: Hierarchy, n_docs: int) -> list[np.ndarray]:
    """Per-level scores from P(child | parent) per sibling group.

    The level probability of a node is the product of the conditionals along its path; each row is
    renormalised to sum to 1 (mass that stopped at a shallower leaf of a ragged tree is spread back),
    which keeps the ratios among siblings, so top-down decoding is unchanged.
    """
    node_prob = np.zeros((n_docs, len(hierarchy)), dtype=np.float64)
    for parent, children in sibling_groups(hierarchy):
        base = 1.0 if parent == ROOT else node_prob[:, parent : parent + 1]
        node_prob[:, children] = base * conditionals[parent]
    return node_prob_to_levels(node_prob, hierarchy)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def group_training_rows(paths: list[list[Path]], parent: int, children: list[int]) -> tuple[list[int], list[int]]:
    """(document index, child) pairs of documents under `parent` (one row per child a document reaches)."""
    child_set = set(children)
    docs: list[int] = []
    labels: list[int] = []
    for i, doc_paths in enumerate(paths):
        seen: set[int] = set()
        for path in doc_paths:
            if parent == ROOT:
                child = path[0] if path else None
            else:
                try:
                    k = path.index(parent)
                except ValueError:
                    continue
                child = path[k + 1] if k + 1 < len(path) else None
            if child in child_set and child not in seen:
                seen.add(child)
                docs.append(i)
                labels.append(child)
    return docs, labels


class LocalLogisticClassifier(HierarchicalClassifier):
    """Shared fit/predict for the logistic-regression baselines; subclasses supply the features.

    `mode` ("local" per parent node, or "flat" over whole paths) is read with getattr: subclasses without
    that parameter are local."""

    strategy_name = "local"

    @property
    def is_flat(self) -> bool:
        return getattr(self, "mode", "local") == "flat"

    # ----- features (subclasses) -----
    def _fit_features(self, texts: Sequence[str], progress: ProgressFn):
        raise NotImplementedError

    def _features(self, texts: Sequence[str], progress: ProgressFn):
        raise NotImplementedError

    def _make_lr(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, max_iter=self.max_iter, solver="lbfgs", tol=1e-4)

    # ----- contract -----
    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Train one logistic regression per parent with >= 2 children; returns self."""
        self.hierarchy_ = hierarchy
        paths = as_multi(paths)
        if len(paths) != len(texts):
            raise ValueError("texts and paths differ in length")
        X = self._fit_features(texts, progress)
        self.groups_: dict[int, dict[str, Any]] = {}
        if getattr(self, "mode", "local") not in ("local", "flat"):
            raise ValueError(f"unknown mode {self.mode!r}: 'local' or 'flat'")
        if self.is_flat:
            self.flat_ = self._fit_flat(X, paths)
            self.flat_groups_: dict[int, dict[str, Any]] = {}
            if progress:
                progress(1, 1)
            return self
        groups = sibling_groups(hierarchy)
        for done, (parent, children) in enumerate(groups, start=1):
            self.groups_[parent] = self._fit_group(X, paths, parent, children)
            if progress:
                progress(done, len(groups))
        return self

    def _fit_group(self, X, paths: list[list[Path]], parent: int, children: list[int]) -> dict[str, Any]:
        group: dict[str, Any] = {"children": children, "classes": [], "coef": None, "intercept": None}
        if len(children) < 2:
            return group
        rows, labels = group_training_rows(paths, parent, children)
        classes = sorted(set(labels))
        group["classes"] = classes
        if len(classes) < 2:
            return group  # 0 or 1 child seen: a constant, see _group_proba
        lr = self._make_lr().fit(X[rows], np.asarray(labels))
        group["classes"] = [int(c) for c in lr.classes_]
        group["coef"] = np.asarray(lr.coef_, dtype=np.float32)
        group["intercept"] = np.asarray(lr.intercept_, dtype=np.float32)
        return group

    def _fit_flat(self, X, paths: list[list[Path]]) -> dict[str, Any]:
        """One logistic regression over the gold paths (named by their last node), as a pseudo-group."""
        rows, labels = path_training_rows(paths)
        ends = sorted(set(labels))
        group: dict[str, Any] = {"children": ends, "classes": ends, "coef": None, "intercept": None}
        if len(ends) < 2:
            return group  # a constant, see _group_proba
        lr = self._make_lr().fit(X[rows], np.asarray(labels))
        group["classes"] = [int(c) for c in lr.classes_]
        group["coef"] = np.asarray(lr.coef_, dtype=np.float32)
        group["intercept"] = np.asarray(lr.intercept_, dtype=np.float32)
        return group

    def _group_proba(self, X, group: dict[str, Any]) -> np.ndarray:
        """P(child | parent) in the order of group["children"], (n_docs, n_children)."""
        children = group["children"]
        n = X.shape[0]
        out = np.zeros((n, len(children)), dtype=np.float64)
        col = {c: k for k, c in enumerate(children)}
        classes = group["classes"]
        if group["coef"] is None:
            if len(classes) == 1:
                out[:, col[classes[0]]] = 1.0
            else:  # single child, or nothing seen in training
                out[:] = 1.0 / len(children)
            return out
        logits = np.asarray(X @ group["coef"].T, dtype=np.float64) + group["intercept"]
        if logits.shape[1] == 1:  # binary LR: one weight vector for classes[1]
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            proba = np.stack([1.0 - p1, p1], axis=1)
        else:
            proba = _softmax(logits)
        for k, c in enumerate(classes):
            out[:, col[c]] = proba[:, k]
        return out

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """One (n_docs, n_nodes_at_level) probability array per level."""
        X = self._features(texts, progress)
        if self.is_flat:
            return self._flat_scores(X)
        conditionals = {parent: self._group_proba(X, g) for parent, g in self.groups_.items()}
        return conditionals_to_levels(conditionals, self.hierarchy_, X.shape[0])

    def _flat_scores(self, X) -> list[np.ndarray]:
        """Per-level max-marginals of the flat path probabilities, after any growth-update group overrides."""
        h = self.hierarchy_
        ends = list(self.flat_["children"])
        proba = self._group_proba(X, self.flat_) if ends else np.zeros((X.shape[0], 0))
        depth = {ROOT: 0, **{v: h.depth[v] for v in range(len(h))}}
        overrides = [
            (p, g["children"], self._group_proba(X, g))
            for p, g in sorted(self.flat_groups_.items(), key=lambda item: depth[item[0]])
        ]
        proba, ends = apply_group_overrides(proba, ends, overrides, h)
        return paths_to_levels(proba, ends, h)

    # ----- persistence -----
    def state_json(self) -> dict[str, Any]:
        groups = {
            str(p): {"children": [int(c) for c in g["children"]], "classes": [int(c) for c in g["classes"]]}
            for p, g in self.groups_.items()
        }
        if self.is_flat:
            flat = {"children": [int(c) for c in self.flat_["children"]], "classes": list(self.flat_["classes"])}
            overrides = {
                str(p): {"children": [int(c) for c in g["children"]], "classes": [int(c) for c in g["classes"]]}
                for p, g in self.flat_groups_.items()
            }
            return {"mode": "flat", "groups": groups, "flat": flat, "flat_groups": overrides}
        return {"mode": "local", "groups": groups}

    def state_tensors(self) -> dict[str, np.ndarray]:
        out = {}
        named = [(str(p), g) for p, g in self.groups_.items()]
        if self.is_flat:
            named += [("flat", self.flat_)] + [(f"flat.{p}", g) for p, g in self.flat_groups_.items()]
        for key, g in named:
            if g["coef"] is not None:
                out[f"coef.{key}"] = g["coef"]
                out[f"intercept.{key}"] = g["intercept"]
        return out

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        if hasattr(self, "mode"):  # models saved before `mode` existed were local
            self.mode = state.get("mode", "local")
        if self.is_flat:
            self.flat_ = _group_from_state(state["flat"], tensors, "flat")
            self.flat_groups_ = {
                int(p): _group_from_state(g, tensors, f"flat.{p}") for p, g in state.get("flat_groups", {}).items()
            }
        self.groups_ = {int(key): _group_from_state(g, tensors, key) for key, g in state["groups"].items()}


def _group_from_state(g: dict[str, Any], tensors: dict[str, np.ndarray], key: str) -> dict[str, Any]:
    return {
        "children": [int(c) for c in g["children"]],
        "classes": [int(c) for c in g["classes"]],
        "coef": tensors.get(f"coef.{key}"),
        "intercept": tensors.get(f"intercept.{key}"),
    }


class TfidfLocalClassifier(LocalLogisticClassifier):
    """TF-IDF (sublinear tf, word n-grams) + a logistic regression per parent node."""

    strategy_name = "tfidf"

    def __init__(
        self,
        C: float = 10.0,
        max_features: int | None = 100_000,
        ngram_range: Sequence[int] = (1, 2),
        min_df: int = 2,
        sublinear_tf: bool = True,
        max_iter: int = 300,
        decode: str = "top_down",
    ):
        self.C = C
        self.max_features = max_features
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.max_iter = max_iter
        self.decode = decode

    def _vectorizer(self, vocabulary=None):
        from sklearn.feature_extraction.text import TfidfVectorizer

        lo, hi = self.ngram_range
        # A few-shot sample can be tiny: min_df above the number of documents would leave no vocabulary.
        return TfidfVectorizer(
            ngram_range=(int(lo), int(hi)),
            min_df=self.min_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            dtype=np.float32,
            vocabulary=vocabulary,
        )

    def _fit_features(self, texts, progress):
        self.vectorizer_ = self._vectorizer()
        try:
            return self.vectorizer_.fit_transform(texts)
        except ValueError:  # empty vocabulary with min_df on very few documents
            self.vectorizer_ = self._vectorizer()
            self.vectorizer_.min_df = 1
            return self.vectorizer_.fit_transform(texts)

    def _features(self, texts, progress):
        return self.vectorizer_.transform(texts)

    def state_json(self) -> dict[str, Any]:
        vocab = self.vectorizer_.vocabulary_
        terms = [""] * len(vocab)
        for term, k in vocab.items():
            terms[k] = term
        return {**super().state_json(), "terms": terms}

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {**super().state_tensors(), "idf": np.asarray(self.vectorizer_.idf_, dtype=np.float64)}

    def load_state(self, state, tensors, directory) -> None:
        super().load_state(state, tensors, directory)
        vec = self._vectorizer(vocabulary={t: k for k, t in enumerate(state["terms"])})
        vec.fit(["x"])  # validates the fixed vocabulary; idf is replaced just below
        vec.idf_ = tensors["idf"]
        self.vectorizer_ = vec


class EmbeddingLocalClassifier(LocalLogisticClassifier):
    """Sentence embeddings (mean-pooled MiniLM by default) + a flat logistic regression over the paths.

    The defaults were measured on 20 Newsgroups (K = 1 / 4 / 16 per leaf, 3 seeds, 2,000 test documents):
    `mode="flat"` beats the per-parent `"local"` classifiers (K = 1 / 4 / 16: +0.05 / +0.06 / +0.06), 256 tokens (the
    encoder's own max_seq_length) beat 128 by +0.07 / +0.06 / +0.07 (the From/Subject/Organization headers fill much of 128),
    and C = 1 beats 10 by up to 0.02 at K = 16 with flat. Models saved before `mode` existed load as local with
    their saved C and max_length."""

    strategy_name = "embed"

    def __init__(
        self,
        C: float = 1.0,
        max_length: int = 256,
        model_path: str | None = None,
        batch_size: int = 32,
        cache_dir: str | None = None,
        max_iter: int = 1000,
        decode: str = "top_down",
        mode: str = "flat",
    ):
        self.C = C
        self.max_length = max_length
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.max_iter = max_iter
        self.decode = decode
        self.mode = mode

    def _embedder(self):
        from classifiers.engine.embeddings import SentenceEmbedder

        return SentenceEmbedder(self.model_path, self.max_length, self.batch_size, cache_dir=self.cache_dir)

    def _fit_features(self, texts, progress):
        return self._embedder().encode(texts)

    def _features(self, texts, progress):
        return self._embedder().encode(texts, progress=progress)
