"""Deterministic test strategies for cascade runs, registered by the tests that use them."""

from __future__ import annotations

import numpy as np

from classifiers.engine.base import HierarchicalClassifier
from tests.classifiers.corpus import WORDS


class KeywordStage(HierarchicalClassifier):
    """Picks the leaf whose corpus words the text has most of; `sure` per level for `sure_tops`, else 0.6.
    For `wrong_tops` it answers the other leaf of the same top, still claiming to be sure."""

    strategy_name = "keyword-test"

    def __init__(self, sure_tops: list | None = None, wrong_tops: list | None = None, sure: float = 0.97):
        self.sure_tops = sure_tops
        self.wrong_tops = wrong_tops
        self.sure = sure

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        return self

    def _choice(self, text: str) -> tuple[str, str]:
        words = set(text.split())
        top, leaf = max(
            ((t, leaf) for t, leaves in WORDS.items() for leaf in leaves),
            key=lambda tl: len(words & set(WORDS[tl[0]][tl[1]])),
        )
        if top in (self.wrong_tops or []):
            leaf = next(other for other in WORDS[top] if other != leaf)
        return top, leaf

    def predict_scores(self, texts, *, progress=None):
        h = self.hierarchy_
        out = [np.zeros((len(texts), len(level))) for level in h.levels]
        for i, text in enumerate(texts):
            top, leaf = self._choice(text)
            p = self.sure if top in (self.sure_tops or []) or top in (self.wrong_tops or []) else 0.6
            node = next(n for n in range(len(h)) if h.names[n] == top and h.depth[n] == 1)
            child = next(c for c in h.children[node] if h.names[c] == leaf)
            for d, chosen in enumerate((node, child)):
                n_level = len(h.levels[d])
                out[d][i] = (1 - p) / max(1, n_level - 1)
                out[d][i, h.level_pos[chosen]] = p
        return out

    def load_state(self, state, tensors, directory):
        pass
