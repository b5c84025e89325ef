"""Inter-annotator agreement per level: percent agreement and Cohen's kappa."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import combinations

from review.models import Correction

NONE = "∅"  # the decision has no label at this level


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    return sum(x == y for x, y in zip(a, b, strict=True)) / len(a) if a else 0.0


def cohens_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """(p_o - p_e) / (1 - p_e); 1.0 when both raters always give the same single label."""
    n = len(a)
    if n == 0:
        return 0.0
    p_o = percent_agreement(a, b)
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb[k] for k in ca.keys() | cb.keys()) / (n * n)
    if p_e == 1.0:
        return 1.0 if p_o == 1.0 else 0.0
    return (p_o - p_e) / (1.0 - p_e)


def _label_at(paths: list[list[int]], level: int) -> Hashable:
    """The set of labels a decision gives at a level (several for multi-path), or NONE."""
    labels = sorted({p[level] for p in paths if len(p) > level})
    return tuple(labels) if labels else NONE


def agreement_for_project(*, project) -> list[dict]:
    """For every pair of annotators with documents in common: per level, items, percent and kappa."""
    decisions: dict[int, dict[int, list[list[int]]]] = {}
    names: dict[int, str] = {}
    rows = Correction.objects.filter(project=project, superseded_by__isnull=True, settles=False).select_related(
        "annotator"
    )
    for c in rows:
        decisions.setdefault(c.annotator_id, {})[c.document_id] = c.after_paths
        names[c.annotator_id] = c.annotator.username
    out = []
    for a, b in combinations(sorted(decisions), 2):
        common = sorted(decisions[a].keys() & decisions[b].keys())
        if not common:
            continue
        depth = max((len(p) for d in common for who in (a, b) for p in decisions[who][d]), default=0)
        levels = []
        for level in range(depth):
            la = [_label_at(decisions[a][d], level) for d in common]
            lb = [_label_at(decisions[b][d], level) for d in common]
            levels.append(
                {
                    "level": level + 1,
                    "items": len(common),
                    "percent": percent_agreement(la, lb),
                    "kappa": cohens_kappa(la, lb),
                }
            )
        out.append({"annotators": (names[a], names[b]), "documents": len(common), "levels": levels})
    return out
