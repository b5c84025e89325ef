"""Hierarchical classification metrics (methods.md §2): flat, constrained (C-), path (P-), hiclass hP/hR/hF.

Every document carries a *list of paths* for gold and for prediction (tuples of node indices of the
hierarchy). A document's label set is the union of the nodes on its paths; predictions may be invalid
tuples (a child under the wrong parent) and are scored as the label sets they name.

Path units for the P-metrics are the root-to-leaf paths of the hierarchy, plus the path to any internal
node that ends a gold path (ragged gold). A unit counts as present in a label set when every node of
its path is in the set and none of its end node's children is (so a deeper prediction is its own unit).

Everything is computed on dense boolean (documents x nodes) matrices, so 7,532 documents x 27 labels
take a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from classifiers.engine.hierarchy import Hierarchy, Path


def label_matrix(docs: Sequence[Sequence[Path]], hierarchy: Hierarchy) -> np.ndarray:
    """Boolean (n_docs, n_nodes) matrix: True where a node is on any of the document's paths."""
    n = len(hierarchy)
    out = np.zeros((len(docs), n), dtype=bool)
    rows: list[int] = []
    cols: list[int] = []
    for i, paths in enumerate(docs):
        for path in paths:
            for node in path:
                rows.append(i)
                cols.append(int(node))
    if cols and (min(cols) < 0 or max(cols) >= n):
        raise ValueError("a path names a node index outside the hierarchy")
    out[rows, cols] = True
    return out


def _f1(right: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Element-wise F1 with 0 where a denominator is 0 (the HiAGM convention)."""
    right, pred, gold = (np.asarray(a, dtype=np.float64) for a in (right, pred, gold))
    p = np.divide(right, pred, out=np.zeros_like(right), where=pred > 0)
    r = np.divide(right, gold, out=np.zeros_like(right), where=gold > 0)
    s = p + r
    return np.divide(2 * p * r, s, out=np.zeros_like(right), where=s > 0)


def _micro_macro(right: np.ndarray, pred: np.ndarray, gold: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Micro F1 over pooled counts, macro F1 over all units (never-seen units count as F1 0), per-unit F1."""
    per_unit = _f1(right, pred, gold)
    micro = float(_f1(right.sum(), pred.sum(), gold.sum()))
    macro = float(per_unit.mean()) if per_unit.size else 0.0
    return micro, macro, per_unit


def _ancestor_matrix(hierarchy: Hierarchy) -> np.ndarray:
    """(n_nodes, n_nodes) int matrix: [v, a] = 1 when a is a proper ancestor of v."""
    n = len(hierarchy)
    anc = np.zeros((n, n), dtype=np.int64)
    for v in range(n):
        for a in hierarchy.ancestors(v):
            anc[v, a] = 1
    return anc


def _path_units(hierarchy: Hierarchy, gold: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray]:
    """End nodes of the path units, their node masks and their end nodes' children masks."""
    n = len(hierarchy)
    ends = list(hierarchy.leaves)
    is_leaf = np.array([hierarchy.is_leaf(v) for v in range(n)], dtype=bool)
    # A gold set whose deepest node is internal (ragged gold): that node ends a unit of its own.
    if gold.size:
        children_in_gold = gold.astype(np.int64) @ _children_matrix(hierarchy).T
        terminal = gold & (children_in_gold == 0) & ~is_leaf[None, :]
        ends += [int(v) for v in np.flatnonzero(terminal.any(axis=0))]
    nodes = np.zeros((len(ends), n), dtype=np.int64)
    kids = np.zeros((len(ends), n), dtype=np.int64)
    for u, end in enumerate(ends):
        nodes[u, list(hierarchy.path_to(end))] = 1
        if hierarchy.children[end]:
            kids[u, hierarchy.children[end]] = 1
    return ends, nodes, kids


def _children_matrix(hierarchy: Hierarchy) -> np.ndarray:
    n = len(hierarchy)
    kids = np.zeros((n, n), dtype=np.int64)
    for v in range(n):
        if hierarchy.children[v]:
            kids[v, hierarchy.children[v]] = 1
    return kids


def _units_present(labels: np.ndarray, nodes: np.ndarray, kids: np.ndarray) -> np.ndarray:
    """Boolean (n_docs, n_units): the unit's whole path is in the set and no child of its end is."""
    li = labels.astype(np.int64)
    return (li @ nodes.T == nodes.sum(axis=1)[None, :]) & (li @ kids.T == 0)


def _level_of(hierarchy: Hierarchy) -> np.ndarray:
    return np.asarray(hierarchy.depth, dtype=np.int64)


def evaluate(gold: Sequence[Sequence[Path]], pred: Sequence[Sequence[Path]], hierarchy: Hierarchy) -> dict:
    """All metric families for gold vs predicted paths per document.

    Returns a JSON-safe dict with fractions in [0, 1]: micro_f1, macro_f1, c_micro_f1, c_macro_f1,
    p_micro_f1, p_macro_f1 (with the stray-label penalty), p_micro_f1_raw, p_macro_f1_raw, p_penalty,
    h_precision, h_recall, h_f1, exact_path_accuracy, consistency (over documents with a prediction), coverage
    (share of documents with a prediction), n_predicted, example_precision / example_recall /
    example_f1 (per document on its label sets, averaged), path_count_accuracy (share of documents predicted
    with as many paths as they have), n_documents, per_level (list of
    {level, micro_f1, macro_f1, accuracy, n_documents}) and per_label ({node index: flat F1}).
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold documents but {len(pred)} predicted documents")
    G = label_matrix(gold, hierarchy)
    P = label_matrix(pred, hierarchy)
    n_docs = len(gold)
    right = G & P

    # 1. Flat micro / macro over every label of every level.
    micro, macro, per_label = _micro_macro(right.sum(0), P.sum(0), G.sum(0))

    # 2. Constrained: a right label counts only when all its ancestors are right too.
    anc = _ancestor_matrix(hierarchy)
    right_ancestors = right.astype(np.int64) @ anc.T
    c_right = right & (right_ancestors == anc.sum(axis=1)[None, :])
    c_micro, c_macro, _ = _micro_macro(c_right.sum(0), P.sum(0), G.sum(0))

    # 3. Path-based, with the sigmoid penalty for predicted labels on no complete predicted path.
    _, unit_nodes, unit_kids = _path_units(hierarchy, G)
    GU = _units_present(G, unit_nodes, unit_kids)
    PU = _units_present(P, unit_nodes, unit_kids)
    p_micro_raw, p_macro_raw, _ = _micro_macro((GU & PU).sum(0), PU.sum(0), GU.sum(0))
    covered = (PU.astype(np.int64) @ unit_nodes) > 0
    stray = int((P & ~covered).sum())
    gold_total = int(G.sum())
    x = stray / gold_total if gold_total else 0.0
    penalty = 2.0 - 2.0 / (1.0 + math.exp(-x))

    # 4. hiclass hP / hR / hF on ancestor-closed sets (an invalid prediction implies its node's real ancestors).
    G_closed = G | ((G.astype(np.int64) @ anc) > 0)
    P_closed = P | ((P.astype(np.int64) @ anc) > 0)
    h_right = int((G_closed & P_closed).sum())
    h_p = h_right / int(P_closed.sum()) if P_closed.any() else 0.0
    h_r = h_right / int(G_closed.sum()) if G_closed.any() else 0.0
    h_f = 2 * h_p * h_r / (h_p + h_r) if h_p + h_r > 0 else 0.0

    exact = float((G == P).all(axis=1).mean()) if n_docs else 0.0
    ex_p, ex_r, ex_f = _example_based(G, P)
    right_count = [len({tuple(p) for p in g}) == len({tuple(p) for p in q}) for g, q in zip(gold, pred, strict=True)]
    # Consistency is over the documents that got a prediction (an empty answer is not a consistent path);
    # coverage says how many those are.
    answered = [paths for paths in pred if len(paths)]
    consistent = [all(hierarchy.is_valid_path(p) for p in paths) for paths in answered]
    consistency = float(np.mean(consistent)) if answered else 0.0
    coverage = len(answered) / n_docs if n_docs else 0.0

    return {
        "n_documents": n_docs,
        "micro_f1": micro,
        "macro_f1": macro,
        "c_micro_f1": c_micro,
        "c_macro_f1": c_macro,
        "p_micro_f1": penalty * p_micro_raw,
        "p_macro_f1": penalty * p_macro_raw,
        "p_micro_f1_raw": p_micro_raw,
        "p_macro_f1_raw": p_macro_raw,
        "p_penalty": penalty,
        "h_precision": h_p,
        "h_recall": h_r,
        "h_f1": h_f,
        "exact_path_accuracy": exact,
        "consistency": consistency,
        "example_precision": ex_p,
        "example_recall": ex_r,
        "example_f1": ex_f,
        "path_count_accuracy": float(np.mean(right_count)) if n_docs else 0.0,
        "coverage": coverage,
        "n_predicted": len(answered),
        "per_level": _per_level(G, P, right, hierarchy),
        "per_label": {i: float(f) for i, f in enumerate(per_label)},
    }


def _example_based(G: np.ndarray, P: np.ndarray) -> tuple[float, float, float]:
    """Example-based precision, recall and F1: per document on its label sets, then averaged (an empty
    prediction has precision 0; a document with empty gold and prediction counts 1)."""
    if not G.shape[0]:
        return 0.0, 0.0, 0.0
    right = (G & P).sum(axis=1).astype(np.float64)
    n_pred, n_gold = P.sum(axis=1).astype(np.float64), G.sum(axis=1).astype(np.float64)
    both_empty = (n_pred == 0) & (n_gold == 0)
    p = np.where(both_empty, 1.0, np.divide(right, n_pred, out=np.zeros_like(right), where=n_pred > 0))
    r = np.where(both_empty, 1.0, np.divide(right, n_gold, out=np.zeros_like(right), where=n_gold > 0))
    denom = n_pred + n_gold
    f = np.where(both_empty, 1.0, np.divide(2 * right, denom, out=np.zeros_like(right), where=denom > 0))
    return float(p.mean()), float(r.mean()), float(f.mean())


def _per_level(G: np.ndarray, P: np.ndarray, right: np.ndarray, hierarchy: Hierarchy) -> list[dict]:
    """Flat F1 restricted to each level's labels, and the share of documents (with gold at that level)
    whose predicted label set at that level equals the gold one."""
    out = []
    levels = _level_of(hierarchy)
    for d in range(1, hierarchy.n_levels + 1):
        cols = levels == d
        micro, macro, _ = _micro_macro(right[:, cols].sum(0), P[:, cols].sum(0), G[:, cols].sum(0))
        has_gold = G[:, cols].any(axis=1)
        same = (G[:, cols] == P[:, cols]).all(axis=1)
        n = int(has_gold.sum())
        out.append(
            {
                "level": d,
                "micro_f1": micro,
                "macro_f1": macro,
                "accuracy": float(same[has_gold].mean()) if n else 0.0,
                "n_documents": n,
            }
        )
    return out


NO_LABEL = -1


def confusion_at_level(
    gold: Sequence[Sequence[Path]], pred: Sequence[Sequence[Path]], hierarchy: Hierarchy, level: int
) -> tuple[list[int], np.ndarray]:
    """Confusion within one level (1-based) for the dashboard.

    Returns (labels, matrix): labels are the node indices of that level followed by NO_LABEL (-1,
    "nothing at this level"); matrix[g, p] counts documents with gold g and prediction p. A document
    with several labels at the level spreads one unit of weight over its (gold, predicted) pairs.
    """
    if not 1 <= level <= hierarchy.n_levels:
        raise ValueError(f"level {level} outside 1..{hierarchy.n_levels}")
    nodes = hierarchy.levels[level - 1]
    labels = [*nodes, NO_LABEL]
    none = len(nodes)
    G = label_matrix(gold, hierarchy)[:, nodes]
    P = label_matrix(pred, hierarchy)[:, nodes]
    matrix = np.zeros((len(labels), len(labels)), dtype=np.float64)
    for g_row, p_row in zip(G, P, strict=True):
        g_idx = np.flatnonzero(g_row).tolist() or [none]
        p_idx = np.flatnonzero(p_row).tolist() or [none]
        if g_idx == [none] and p_idx == [none]:
            continue
        w = 1.0 / (len(g_idx) * len(p_idx))
        for g in g_idx:
            for p in p_idx:
                matrix[g, p] += w
    return labels, matrix
