"""Path-based K-shot sampling (HierVerb / HierICRF protocol): K documents per leaf path.

A document's leaves are the deepest nodes of its paths; a document with several paths counts for each
of them. The sampler walks one seeded permutation of the documents and keeps a document while any of its
leaves still needs examples (the fixed HierICRF loop over documents, not over the fields of one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from classifiers.engine.hierarchy import as_multi


def _leaves_of(paths: Sequence) -> list[int]:
    return sorted({path[-1] for path in paths if path})


def _greedy_sample(
    leaves_per_doc: list[list[int]], candidates: list[int], k: int, rng: np.random.RandomState
) -> list[int]:
    counts: Counter[int] = Counter()
    chosen: list[int] = []
    for pos in rng.permutation(len(candidates)):
        doc = candidates[int(pos)]
        leaves = leaves_per_doc[doc]
        if leaves and any(counts[leaf] < k for leaf in leaves):
            chosen.append(doc)
            counts.update(leaves)
    return sorted(chosen)


def sample_few_shot(paths_per_doc: Sequence, k: int, seed: int) -> list[int]:
    """Indices (sorted) of K training documents per leaf path, deterministic for a seed; k=0 keeps all.

    `paths_per_doc` holds one path or a list of paths per document (tuples of node ids or indices).
    Documents without a path are never chosen (except with k=0, which returns every index).
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    if k == 0:
        return list(range(len(paths_per_doc)))
    leaves = [_leaves_of(p) for p in as_multi(paths_per_doc)]
    return _greedy_sample(leaves, list(range(len(leaves))), k, np.random.RandomState(seed))


def sample_dev(paths_per_doc: Sequence, k: int, seed: int, *, exclude: Iterable[int] = ()) -> list[int]:
    """Indices (sorted) of K development documents per leaf path, never one of `exclude` (the training sample).

    Uses a random stream distinct from `sample_few_shot` with the same seed; k=0 keeps every document not
    excluded.
    """
    if k < 0:
        raise ValueError("k must be >= 0")
    excluded = set(exclude)
    candidates = [i for i in range(len(paths_per_doc)) if i not in excluded]
    if k == 0:
        return candidates
    leaves = [_leaves_of(p) for p in as_multi(paths_per_doc)]
    # A distinct stream: the dev sample must not simply mirror the training permutation.
    rng = np.random.RandomState((int(seed) * 1_000_003 + 7919) % (2**32))
    return _greedy_sample(leaves, candidates, k, rng)
