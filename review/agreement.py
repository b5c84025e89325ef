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


#: The rater name of the uploaded gold in the agreement figures.
UPLOADED_GOLD = "uploaded gold"


def agreement_for_project(*, project) -> list[dict]:
    """For every pair of raters (annotators, and each annotator against the uploaded gold) with comparable
    decisions in common: per level, items, percent and kappa.

    Only comparable decisions count: current decisions that give a path (no rejects, no withdrawn decisions,
    no adjudications), made on the same taxonomy version for both annotators; at each level, an item counts only
    when at least one of the two gives a label there (two empty levels are not an agreement)."""
    from review.labels import gives_label, uploaded_gold
    from taxonomies.selectors import taxonomy_tree

    decisions: dict[str, dict[int, tuple[list[list[int]], int | None]]] = {}
    rows = (
        Correction.objects.filter(project=project, superseded_by__isnull=True, settles=False)
        .select_related("annotator")
        .order_by("created_at", "id")
    )
    for c in rows:
        if gives_label(c):
            decisions.setdefault(c.annotator.username, {})[c.document_id] = (c.after_paths, c.taxonomy_version)
    annotators = sorted(decisions)
    reviewed_docs = {d for per in decisions.values() for d in per}
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    gold = {d: (paths, None) for d, (paths, _) in uploaded_gold(document_ids=sorted(reviewed_docs), tree=tree).items()}
    pairs = [(a, b) for a, b in combinations(annotators, 2)] + [(a, UPLOADED_GOLD) for a in annotators]
    out = []
    for a, b in pairs:
        da = decisions[a]
        db = gold if b == UPLOADED_GOLD else decisions[b]
        common = sorted(
            d
            for d in da.keys() & db.keys()
            if db[d][1] is None or da[d][1] == db[d][1]  # same taxonomy version
        )
        if not common:
            continue
        depth = max((len(p) for d in common for who in (da, db) for p in who[d][0]), default=0)
        levels = []
        for level in range(depth):
            pairs_at = [(_label_at(da[d][0], level), _label_at(db[d][0], level)) for d in common]
            pairs_at = [(x, y) for x, y in pairs_at if not (x == NONE and y == NONE)]
            if not pairs_at:
                continue
            la, lb = [x for x, _ in pairs_at], [y for _, y in pairs_at]
            levels.append(
                {
                    "level": level + 1,
                    "items": len(pairs_at),
                    "percent": percent_agreement(la, lb),
                    "kappa": cohens_kappa(la, lb),
                }
            )
        out.append({"annotators": (a, b), "documents": len(common), "levels": levels, "gold": b == UPLOADED_GOLD})
    return out
