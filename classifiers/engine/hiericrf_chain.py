"""The iterative mask chain of HierICRF and the tag constraints it implies (methods.md §3.1).

The chain visits the levels `[1..D] + [D-1..1] + (N-1) x [D..1]` (D = depth, N = `iter_num`); every mask takes a
tag from ONE tag set: all nodes of the hierarchy (tag index = node index).

Ragged trees (a path that stops above D): the path is padded with its own last node, so at a level-k mask a
path p contributes `p[min(k, len(p)) - 1]`. A "terminal path" is a root-to-leaf path, or a gold path of the
training data that stops at an internal node. The hard constraints are derived exactly from the terminal paths:
a move from the tag at chain position t to the tag at t + 1 is allowed only when some terminal path puts those two
tags at those two levels. So going down one level is "a child (or the same shallow terminal node)", going up is
"the parent", the jump from level 1 to level D between iterations is "a descendant at level D (or the terminal node
itself when its path is shorter)", and the first tag is a level-1 node. The first D tags of any permitted sequence
therefore spell one padded terminal path, hence a valid path once the padding is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from classifiers.engine.hierarchy import Hierarchy, Path


def chain_levels(depth: int, iter_num: int) -> list[int]:
    """The level (1-based) of every mask of the chain, in order."""
    if depth < 1 or iter_num < 1:
        raise ValueError("depth and iter_num must be positive")
    down = list(range(1, depth + 1))
    return down + list(range(depth - 1, 0, -1)) + (iter_num - 1) * list(range(depth, 0, -1))


def padded_node(path: Sequence[int], level: int) -> int:
    """The node a path contributes at a level-`level` mask (its own last node below its end)."""
    return int(path[min(level, len(path)) - 1])


def chain_sequence(path: Sequence[int], chain: Sequence[int]) -> list[int]:
    """The gold tag sequence of a path laid out in chain order."""
    return [padded_node(path, level) for level in chain]


def terminal_paths(hierarchy: Hierarchy, extra: Iterable[Path] = ()) -> list[Path]:
    """Root-to-leaf paths plus the valid `extra` paths (gold paths that stop at an internal node), sorted."""
    out = set(hierarchy.leaf_paths())
    out.update(tuple(int(n) for n in p) for p in extra if p and hierarchy.is_valid_path(p))
    return sorted(out)


def hard_constraints(chain: Sequence[int], paths: Sequence[Path], num_tags: int) -> tuple[np.ndarray, np.ndarray]:
    """(allowed `[len(chain) - 1, K, K]`, start_allowed `[K]`) bool arrays from the terminal paths."""
    seqs = np.array([chain_sequence(p, chain) for p in paths], dtype=np.int64).reshape(len(paths), len(chain))
    allowed = np.zeros((max(0, len(chain) - 1), num_tags, num_tags), dtype=bool)
    steps = np.broadcast_to(np.arange(len(chain) - 1), (len(paths), len(chain) - 1))
    allowed[steps, seqs[:, :-1], seqs[:, 1:]] = True
    start = np.zeros(num_tags, dtype=bool)
    start[seqs[:, 0]] = True
    return allowed, start


def level_constraints(chain: Sequence[int], paths: Sequence[Path], num_tags: int) -> tuple[np.ndarray, np.ndarray]:
    """Like `hard_constraints` but only "each mask takes a tag of its level": any pair of such tags may follow."""
    seqs = np.array([chain_sequence(p, chain) for p in paths], dtype=np.int64).reshape(len(paths), len(chain))
    ok = np.zeros((len(chain), num_tags), dtype=bool)
    ok[np.broadcast_to(np.arange(len(chain)), seqs.shape), seqs] = True
    allowed = ok[:-1, :, None] & ok[1:, None, :]
    return allowed, ok[0].copy()


def path_from_tags(tags: Sequence[int], hierarchy: Hierarchy) -> Path:
    """The prediction from the first D tags: stop at a repeated tag (padding) or after a leaf."""
    out: list[int] = []
    for tag in tags[: hierarchy.n_levels]:
        tag = int(tag)
        if tag < 0 or tag in out:
            break
        out.append(tag)
        if hierarchy.is_leaf(tag):
            break
    return tuple(out)
