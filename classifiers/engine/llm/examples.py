"""Few-shot example choice for the LLM strategies: k documents per class, seeded.

"Class" depends on the level a strategy asks about: the deepest node of the gold path for DL and
DH (one call answers the whole path), every node of the path for TMH (each call asks about the
children of one node, so it needs examples of those children).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifiers.engine.hierarchy import Path


def group_by_class(paths: Sequence[Sequence[Path]], *, every_level: bool) -> dict[int, list[int]]:
    """Class node -> indices of the documents whose gold paths contain it (at its own level)."""
    groups: dict[int, list[int]] = {}
    for i, doc_paths in enumerate(paths):
        seen: set[int] = set()
        for path in doc_paths:
            for node in path if every_level else path[-1:]:
                if node not in seen:
                    seen.add(node)
                    groups.setdefault(node, []).append(i)
    return groups


def choose_examples(paths: Sequence[Sequence[Path]], *, k: int, seed: int, every_level: bool) -> dict[int, list[int]]:
    """Class node -> up to k document indices, drawn without replacement with a seeded generator.

    Classes are visited in node order and each gets its own draw, so adding a class does not
    change the examples chosen for the others when the seed is kept."""
    if k <= 0:
        return {}
    out: dict[int, list[int]] = {}
    for node, members in sorted(group_by_class(paths, every_level=every_level).items()):
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(node)])
        take = min(int(k), len(members))
        picked = rng.choice(len(members), size=take, replace=False)
        out[node] = sorted(members[j] for j in picked)
    return out
