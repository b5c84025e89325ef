"""Zero-shot classification from the taxonomy alone: the cold-start mode of a new project.

Every root-to-node path is represented by the sentence embedding of its WHOLE path text ("comp graphics",
"rec sport hockey"; a description and terms appended when given, see `path_texts`). A document is embedded
with the same encoder (mean pooling, 256 tokens, optionally the mean over its first `chunks` windows) and
scored against every path at once by cosine (`scoring="flat"`, the default): a softmax over all paths, and
per-level scores are max-marginals (a node's score is that of the best path through it), as embed's flat
mode. Top-down decoding of those returns the most probable path.

Why flat: level-1 names are often cryptic (20 Newsgroups: `alt`, `misc`, `soc`), and deciding them first
(`scoring="top_down"`, a softmax per sibling group, kept as an option) multiplies their errors: on 20
Newsgroups exact path 0.186 top-down (parent > name texts, 128 tokens) against 0.507 flat over whole path
texts at 256 tokens (see benchmarks/results/accuracy.md).

Public helpers for other strategies (ensembles, priors): `path_texts(hierarchy, label_texts)`,
`ZeroShotClassifier.path_scores(texts) -> (proba over paths, ends)` and `flat_path_proba(...)`.
No training documents are used: `fit` only embeds the label texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn
from classifiers.engine.baselines import ROOT, conditionals_to_levels, sibling_groups, softmax
from classifiers.engine.flat_paths import path_text, path_texts, paths_to_levels, readable
from classifiers.engine.hierarchy import Hierarchy

__all__ = ["ZeroShotClassifier", "flat_path_proba", "path_text", "path_texts", "readable"]

SCORINGS = ("flat", "top_down")
STATE_VERSION = 2  # 1: "parent > name" texts, top-down only (models saved before flat scoring)


def flat_path_proba(docs: np.ndarray, path_vectors: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax over paths of cosine / temperature: (n_docs, n_paths); both inputs L2-normalised rows."""
    return softmax((np.asarray(docs, dtype=np.float64) @ np.asarray(path_vectors, dtype=np.float64).T) / temperature)


class ZeroShotClassifier(HierarchicalClassifier):
    """Cosine between document and path-text embeddings; flat over all root-to-node paths by default.

    `label_texts` maps a node index to extra text (a description, mined terms) appended to its path text.
    `temperature` sharpens (<1) or flattens (>1) the softmax over cosines. `scoring`: "flat" (all paths at
    once, per-level max-marginals) or "top_down" (a softmax per sibling group, probabilities multiplied down).
    `chunks` > 1 embeds a document as the mean of its first `chunks` windows of `max_length` tokens.
    """

    strategy_name = "zeroshot"
    training_free = True
    uses_torch = True

    def __init__(
        self,
        temperature: float = 0.05,
        with_path: bool = True,
        label_texts: dict | None = None,
        max_length: int = 256,
        model_path: str | None = None,
        batch_size: int = 32,
        cache_dir: str | None = None,
        decode: str = "top_down",
        scoring: str = "flat",
        chunks: int = 1,
        device: str = "auto",
    ):
        self.temperature = temperature
        self.with_path = with_path
        self.label_texts = label_texts
        self.max_length = max_length
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.decode = decode
        self.scoring = scoring
        self.chunks = chunks
        self.device = device

    def _embedder(self, chunks: int | None = None):
        from classifiers.engine.embeddings import SentenceEmbedder

        return SentenceEmbedder(
            self.model_path,
            self.max_length,
            self.batch_size,
            cache_dir=self.cache_dir,
            chunks=int(chunks if chunks is not None else self.chunks or 1),
            device=self.device,
        )

    def node_texts(self, hierarchy: Hierarchy) -> list[str]:
        """The text each node's path is embedded from: its whole path text and any extra label text."""
        return path_texts(hierarchy, self.label_texts, with_path=self.with_path)

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Embed the label texts; `texts` and `paths` are ignored (no training documents are needed)."""
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {SCORINGS}, not {self.scoring!r}")
        if int(self.chunks or 1) < 1:
            raise ValueError("chunks must be at least 1")
        self.hierarchy_ = hierarchy
        # Label texts are short: one window, whatever `chunks` is.
        self.node_vectors_ = self._embedder(chunks=1).encode(self.node_texts(hierarchy)).astype(np.float32)
        self.device_ = self._embedder(chunks=1).device_name
        if progress:
            progress(1, 1)
        return self

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        return self.scores_for_embeddings(self.embed_documents(texts, progress=progress))

    def embed_documents(self, texts: Sequence[str], *, progress: ProgressFn = None) -> np.ndarray:
        """(n_docs, dim) unit-length document embeddings, reusable across label texts (enrichment rounds)."""
        return self._embedder().encode(list(texts), progress=progress)

    def path_ends(self) -> list[int]:
        """The last node of every scored path, in column order of `path_scores` (every node: a path may stop
        at an internal node)."""
        return list(range(len(self.hierarchy_)))

    def path_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> tuple[np.ndarray, list[int]]:
        """(P(path | document) of shape (n_docs, n_paths), the path ends): the flat zero-shot distribution."""
        docs = self.embed_documents(texts, progress=progress)
        return flat_path_proba(docs, self.node_vectors_, float(self.temperature)), self.path_ends()

    def scores_for_embeddings(self, docs: np.ndarray) -> list[np.ndarray]:
        """Per-level scores of documents already embedded by `embed_documents` (same encoder)."""
        if not len(self.hierarchy_):
            return []
        if getattr(self, "scoring", "flat") == "flat":
            proba = flat_path_proba(docs, self.node_vectors_, float(self.temperature))
            return [s.astype(np.float64) for s in paths_to_levels(proba, self.path_ends(), self.hierarchy_)]
        cosines = docs @ self.node_vectors_.T  # both sides are L2-normalised
        conditionals: dict[int, np.ndarray] = {}
        for parent, children in sibling_groups(self.hierarchy_):
            if children:
                conditionals[parent] = softmax(cosines[:, children] / self.temperature)
        if ROOT not in conditionals:
            return []
        return conditionals_to_levels(conditionals, self.hierarchy_, len(docs))

    def state_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "device": getattr(self, "device_", "cpu")}

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {"node_vectors": self.node_vectors_}

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        self.node_vectors_ = tensors["node_vectors"]
        self.device_ = state.get("device", "cpu")
        if int(state.get("version", 1)) < 2:
            self.scoring = "top_down"  # saved before flat scoring: its label vectors and behaviour stay as they were
