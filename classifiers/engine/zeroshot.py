"""Zero-shot classification from the taxonomy alone: the cold-start mode of a new project.

Each node is represented by the sentence embedding of its name in context ("parent > name", plus a
description or terms when given); a document goes to the sibling whose representation is closest by
cosine, top-down. No training documents are used: `fit` only embeds the label texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn
from classifiers.engine.baselines import ROOT, conditionals_to_levels, sibling_groups, softmax
from classifiers.engine.hierarchy import Hierarchy


class ZeroShotClassifier(HierarchicalClassifier):
    """Cosine between document and label embeddings, a softmax per sibling group, decoded top-down.

    `label_texts` maps a node index to extra text (a description, mined terms) appended to its name.
    `temperature` sharpens (<1) or flattens (>1) the per-group softmax over cosines.
    """

    strategy_name = "zeroshot"
    training_free = True
    uses_torch = True

    def __init__(
        self,
        temperature: float = 0.05,
        with_path: bool = True,
        label_texts: dict | None = None,
        max_length: int = 128,
        model_path: str | None = None,
        batch_size: int = 32,
        cache_dir: str | None = None,
        decode: str = "top_down",
    ):
        self.temperature = temperature
        self.with_path = with_path
        self.label_texts = label_texts
        self.max_length = max_length
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.decode = decode

    def _embedder(self):
        from classifiers.engine.embeddings import SentenceEmbedder

        return SentenceEmbedder(self.model_path, self.max_length, self.batch_size, cache_dir=self.cache_dir)

    def node_texts(self, hierarchy: Hierarchy) -> list[str]:
        """The text each node is embedded from: its name (in path context) and any extra label text."""
        extra = {int(k): str(v) for k, v in (self.label_texts or {}).items()}
        out = []
        for node in range(len(hierarchy)):
            name = hierarchy.path_label(hierarchy.path_to(node)) if self.with_path else hierarchy.names[node]
            out.append(f"{name}: {extra[node]}" if extra.get(node) else name)
        return out

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Embed the label texts; `texts` and `paths` are ignored (no training documents are needed)."""
        if self.temperature <= 0:
            raise ValueError("temperature must be positive")
        self.hierarchy_ = hierarchy
        self.node_vectors_ = self._embedder().encode(self.node_texts(hierarchy)).astype(np.float32)
        if progress:
            progress(1, 1)
        return self

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        return self.scores_for_embeddings(self.embed_documents(texts, progress=progress))

    def embed_documents(self, texts: Sequence[str], *, progress: ProgressFn = None) -> np.ndarray:
        """(n_docs, dim) unit-length document embeddings, reusable across label texts (enrichment rounds)."""
        return self._embedder().encode(list(texts), progress=progress)

    def scores_for_embeddings(self, docs: np.ndarray) -> list[np.ndarray]:
        """Per-level scores of documents already embedded by `embed_documents` (same encoder)."""
        cosines = docs @ self.node_vectors_.T  # both sides are L2-normalised
        conditionals: dict[int, np.ndarray] = {}
        for parent, children in sibling_groups(self.hierarchy_):
            if children:
                conditionals[parent] = softmax(cosines[:, children] / self.temperature)
        if ROOT not in conditionals:
            return []
        return conditionals_to_levels(conditionals, self.hierarchy_, len(docs))

    def state_tensors(self) -> dict[str, np.ndarray]:
        return {"node_vectors": self.node_vectors_}

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        self.node_vectors_ = tensors["node_vectors"]
