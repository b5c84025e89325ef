"""HierVerb's training losses (methods.md section 1.1), written from the definitions.

- `classification_loss`: per-level cross-entropy (BCE with `multi_label`), summed over levels.
- `hcc_loss` (Hierarchy-aware Constraint Chain): the leaf-level softmax is propagated bottom-up by summing the
  children's scores (the chain reuses the propagated scores); each propagated vector is fed to the loss AS LOGITS,
  every level weight 1.
- `fhc_loss` (Flat Hierarchical Contrastive): for mask m and each shallower level k < m, positives of anchor i are
  all j (i itself included) with the same gold label at level k; per anchor -log(sum_pos e^cos / sum_all e^cos),
  weight 2^(-(m-k)*alpha); the sum is divided by batch^2. Anchors without a gold label at level k are skipped.

Targets per level: single-label -> LongTensor (batch,) of positions in `hierarchy.levels[d]`, `IGNORE` where the
document's path stops above that level; multi-label -> FloatTensor (batch, n_nodes_at_level) of 0/1.

Ragged trees (a leaf above the deepest level): the paper's trees are full depth. Here a childless node at level d
has nothing to sum from below, so its propagated score is its own level-d probability (pass-through); on
full-depth trees that term is absent and the chain is exactly the reference one.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from classifiers.engine.hierarchy import Hierarchy, Path

IGNORE = -100


def level_targets(
    paths_per_doc: Sequence[Sequence[Path]], hierarchy: Hierarchy, *, multi_label: bool
) -> list[torch.Tensor]:
    """Per-level training targets from each document's gold paths (single-label uses the first path)."""
    n = len(paths_per_doc)
    out: list[torch.Tensor] = []
    for d, nodes in enumerate(hierarchy.levels):
        if multi_label:
            target = torch.zeros((n, len(nodes)))
            for i, paths in enumerate(paths_per_doc):
                for path in paths:
                    if d < len(path):
                        target[i, hierarchy.level_pos[path[d]]] = 1.0
        else:
            target = torch.full((n,), IGNORE, dtype=torch.long)
            for i, paths in enumerate(paths_per_doc):
                if paths and d < len(paths[0]):
                    target[i] = hierarchy.level_pos[paths[0][d]]
        out.append(target)
    return out


def parent_maps(hierarchy: Hierarchy) -> list[torch.Tensor]:
    """maps[d]: (n_nodes at level d+2, n_nodes at level d+1) 0/1 matrix, child row -> parent column."""
    maps = []
    for d in range(hierarchy.n_levels - 1):
        matrix = torch.zeros((len(hierarchy.levels[d + 1]), len(hierarchy.levels[d])))
        for child in hierarchy.levels[d + 1]:
            matrix[hierarchy.level_pos[child], hierarchy.level_pos[hierarchy.parent[child]]] = 1.0
        maps.append(matrix)
    return maps


def childless_masks(hierarchy: Hierarchy) -> list[torch.Tensor]:
    """masks[d]: bool (n_nodes at level d+1,), True for nodes without children (ragged leaves; last level all True)."""
    return [torch.tensor([hierarchy.is_leaf(node) for node in nodes], dtype=torch.bool) for nodes in hierarchy.levels]


def classification_loss(
    logits: Sequence[torch.Tensor], targets: Sequence[torch.Tensor], *, multi_label: bool
) -> torch.Tensor:
    """Sum over levels of the mean CE (or BCE) of that level; levels with no gold in the batch add 0."""
    total = logits[0].new_zeros(())
    for level_logits, target in zip(logits, targets, strict=True):
        if multi_label:
            total = total + F.binary_cross_entropy_with_logits(level_logits, target)
        elif bool((target != IGNORE).any()):
            total = total + F.cross_entropy(level_logits, target, ignore_index=IGNORE)
    return total


def hcc_scores(
    logits: Sequence[torch.Tensor],
    maps: Sequence[torch.Tensor],
    childless: Sequence[torch.Tensor] | None = None,
    *,
    multi_label: bool = False,
) -> list[torch.Tensor]:
    """Propagated scores per level, level 1 first: the last is the leaf-level softmax (sigmoid if multi-label),
    each level above is the sum of its children's propagated scores."""
    probs = torch.sigmoid if multi_label else (lambda x: torch.softmax(x, dim=-1))
    scores: list[torch.Tensor] = [probs(logits[-1])]
    for d in range(len(logits) - 2, -1, -1):
        propagated = scores[0] @ maps[d].to(scores[0].dtype)
        if childless is not None and bool(childless[d].any()):
            propagated = propagated + probs(logits[d]) * childless[d].to(propagated.dtype)
        scores.insert(0, propagated)
    return scores


def hcc_loss(
    logits: Sequence[torch.Tensor],
    targets: Sequence[torch.Tensor],
    maps: Sequence[torch.Tensor],
    childless: Sequence[torch.Tensor] | None = None,
    *,
    multi_label: bool = False,
) -> torch.Tensor:
    """Hierarchy-aware constraint chain: sum over the levels above the leaves of CE(propagated scores as logits)."""
    scores = hcc_scores(logits, maps, childless, multi_label=multi_label)
    total = logits[0].new_zeros(())
    for d in range(len(logits) - 1):
        if multi_label:
            total = total + F.binary_cross_entropy_with_logits(scores[d], targets[d])
        elif bool((targets[d] != IGNORE).any()):
            total = total + F.cross_entropy(scores[d], targets[d], ignore_index=IGNORE)
    return total


def fhc_weight(mask_level: int, label_level: int, alpha: float = 1.0) -> float:
    """Weight of (mask m, label level k < m), 0-based: 2^(-(m-k)*alpha) (depth 2: one term at 0.5)."""
    return float(2.0 ** (-(mask_level - label_level) * alpha))


def fhc_loss(
    mask_states: torch.Tensor, targets: Sequence[torch.Tensor], *, alpha: float = 1.0, multi_label: bool = False
) -> torch.Tensor:
    """Flat hierarchical contrastive loss over the [MASK] hidden states (batch, n_masks, hidden)."""
    batch, n_masks, _ = mask_states.shape
    total = mask_states.new_zeros(())
    if batch == 0:
        return total
    positives = [_same_label_matrix(t, multi_label) for t in targets]
    for m in range(n_masks):
        z = F.normalize(mask_states[:, m, :], dim=-1)
        sims = torch.exp(z @ z.T)
        all_sum = sims.sum(dim=1)
        for k in range(min(m, len(targets))):
            pos = positives[k]
            anchors = pos.any(dim=1)
            if not bool(anchors.any()):
                continue
            pos_sum = (sims * pos.to(sims.dtype)).sum(dim=1)
            per_anchor = -torch.log(pos_sum[anchors] / all_sum[anchors])
            total = total + fhc_weight(m, k, alpha) * per_anchor.sum()
    return total / (batch**2)


def _same_label_matrix(target: torch.Tensor, multi_label: bool) -> torch.Tensor:
    """(batch, batch) bool: documents sharing a gold label at this level (never true for a missing label)."""
    if multi_label:
        return (target @ target.T) > 0
    known = target != IGNORE
    return (target.unsqueeze(0) == target.unsqueeze(1)) & known.unsqueeze(0) & known.unsqueeze(1)
