"""Taxonomy growth without forgetting: update a model after a node is split or gains new children.

For the local-classifier strategies (tfidf, embed) only the sibling groups whose children changed are
refitted, on the new labelled documents plus a rehearsal sample of old ones; every other group keeps
its weights, and the feature space (the TF-IDF vocabulary) is kept, so untouched nodes predict as before.
A flat embed model keeps its path classifier and gets a local classifier per changed group on top.
HierVerb is warm-started and fine-tuned briefly (`verbalizer_growth`). Nodes are matched between the old
and the new hierarchy by their ids.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence

from classifiers.engine.baselines import ROOT, LocalLogisticClassifier, sibling_groups
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi


def _remap_path(path: Path, old: Hierarchy, new: Hierarchy) -> Path:
    return tuple(new.index[old.ids[v]] for v in path if old.ids[v] in new.index)


def changed_groups(old: Hierarchy, new: Hierarchy) -> list[int]:
    """Parents (new indices, ROOT for the top level) whose set of children differs from the old hierarchy."""
    old_children = {(None if p == ROOT else old.ids[p]): {old.ids[c] for c in ch} for p, ch in sibling_groups(old)}
    out = []
    for p, ch in sibling_groups(new):
        key = None if p == ROOT else new.ids[p]
        if old_children.get(key) != {new.ids[c] for c in ch}:
            out.append(p)
    return out


def rehearsal_sample(n_old: int, rehearsal: float | int, seed: int) -> list[int]:
    """Indices of old documents to replay: a fraction (float <= 1) or a count (int); sorted."""
    k = int(round(rehearsal * n_old)) if isinstance(rehearsal, float) and rehearsal <= 1 else int(rehearsal)
    return sorted(random.Random(seed).sample(range(n_old), min(max(k, 0), n_old)))


def update_for_new_labels(
    old_estimator,
    new_hierarchy: Hierarchy,
    texts_new: Sequence[str],
    paths_new: Sequence,
    texts_old: Sequence[str],
    paths_old: Sequence,
    *,
    rehearsal: float | int = 0.3,
    seed: int = 0,
    epochs: int = 2,
    progress=None,
):
    """A new estimator for `new_hierarchy` built from `old_estimator` (which is left unchanged).

    `paths_new` use `new_hierarchy` indices, `paths_old` the old estimator's. The new documents plus a
    `rehearsal` sample of the old ones are the training data. Local classifiers (tfidf, embed): only the
    changed sibling groups are refitted (flat embed: a local classifier per changed group on top of the
    flat one, see `_update_flat`). HierVerb:
    the verbalizer is extended (old rows copied) and the whole model fine-tuned for `epochs` (see `verbalizer_growth`). Returns the new estimator."""
    name = getattr(old_estimator, "strategy_name", type(old_estimator).__name__)
    if not isinstance(old_estimator, LocalLogisticClassifier) and name != "hierverb":
        raise NotImplementedError(f"growth update not implemented for {name!r}")
    old_h = old_estimator.hierarchy_
    sample = rehearsal_sample(len(texts_old), rehearsal, seed)
    texts = list(texts_new) + [texts_old[i] for i in sample]
    old_multi = as_multi(paths_old)
    paths = as_multi(paths_new) + [[_remap_path(p, old_h, new_hierarchy) for p in old_multi[i]] for i in sample]
    if name == "hierverb":
        from classifiers.engine.verbalizer_growth import update_hierverb

        est = update_hierverb(old_estimator, new_hierarchy, texts, paths, epochs=epochs, progress=progress)
        est.updated_groups_ = sorted(changed_groups(old_h, new_hierarchy))
        return est
    if old_estimator.is_flat:
        return _update_flat(old_estimator, new_hierarchy, texts, paths, progress)
    est = copy.deepcopy(old_estimator)
    est.hierarchy_ = new_hierarchy
    # carry the untouched groups over, re-indexed
    changed = set(changed_groups(old_h, new_hierarchy))
    groups = {}
    for p, children in sibling_groups(new_hierarchy):
        if p in changed:
            continue
        old_p = ROOT if p == ROOT else old_h.index[new_hierarchy.ids[p]]
        g = dict(old_estimator.groups_[old_p])
        g["children"] = list(children)
        g["classes"] = [new_hierarchy.index[old_h.ids[c]] for c in g["classes"]]
        groups[p] = g
    if changed:
        X = est._features(texts, None)
        done = 0
        for p, children in sibling_groups(new_hierarchy):
            if p in changed:
                groups[p] = est._fit_group(X, paths, p, children, progress)
                done += 1
                if progress:
                    progress(done, len(changed))
    est.groups_ = groups
    est.updated_groups_ = sorted(changed)
    return est


def _update_flat(old_estimator, new_hierarchy: Hierarchy, texts, paths, progress):
    """A flat model keeps its path classifier (its paths re-indexed; removed nodes dropped) and gets a
    local classifier for each changed sibling group, which shares the mass of the paths through that
    parent among its children; paths outside the changed groups keep their probabilities exactly."""
    old_h = old_estimator.hierarchy_
    est = copy.deepcopy(old_estimator)
    est.hierarchy_ = new_hierarchy

    def remap(nodes):
        return [new_hierarchy.index[old_h.ids[c]] for c in nodes if old_h.ids[c] in new_hierarchy.index]

    flat = dict(old_estimator.flat_)
    kept = [k for k, c in enumerate(flat["classes"]) if old_h.ids[c] in new_hierarchy.index]
    flat["children"] = remap(flat["children"])
    flat["classes"] = remap(flat["classes"])
    if flat["coef"] is not None and len(kept) < len(old_estimator.flat_["classes"]):
        if flat["coef"].shape[0] == 1 or len(kept) < 2:  # too few paths left to keep a softmax: a constant
            flat["coef"] = flat["intercept"] = None
            flat["classes"] = flat["classes"][:1]
        else:
            flat["coef"], flat["intercept"] = flat["coef"][kept], flat["intercept"][kept]
            if flat.get("prior") is not None:
                flat["prior"] = flat["prior"][kept]
    if flat["coef"] is None:
        flat["prior"] = None
    est.flat_ = flat
    changed = set(changed_groups(old_h, new_hierarchy))
    groups = {}
    for old_p, g in old_estimator.flat_groups_.items():
        p = ROOT if old_p == ROOT else new_hierarchy.index.get(old_h.ids[old_p])
        if p is None or p in changed:
            continue
        groups[p] = {**g, "children": remap(g["children"]), "classes": remap(g["classes"])}
    if changed:
        X = est._features(texts, None)
        children_of = dict(sibling_groups(new_hierarchy))
        for done, p in enumerate(sorted(changed), start=1):
            groups[p] = est._fit_group(X, paths, p, children_of[p], progress)
            if progress:
                progress(done, len(changed))
    est.flat_groups_ = groups
    est.updated_groups_ = sorted(changed)
    return est


def prefix_accuracy(predicted: Sequence[Sequence], gold: Sequence[Sequence]) -> float | None:
    """Share of documents whose predicted path (node ids, level 1 first) starts with their gold path; a
    prediction that goes on into a new child of the gold node counts as correct. None for no documents."""
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold differ in length")
    if not len(gold):
        return None
    return sum(list(p[: len(g)]) == list(g) for p, g in zip(predicted, gold, strict=True)) / len(gold)


def forgetting_figures(
    gold: Sequence[Sequence],
    before: Sequence[Sequence],
    after: Sequence[Sequence],
    old: Sequence[bool],
    new: Sequence[bool],
) -> dict:
    """Forgetting report from node-id paths per document (gold, the old model's and the updated model's
    predictions) and two masks: documents on untouched old labels (`old`) and on new labels (`new`).

    Returns {"old_labels": {"documents", "before", "after", "drop", "unchanged_predictions"},
    "new_labels": {"documents", "before", "after"}}; accuracies are `prefix_accuracy` (None without documents)."""

    def pick(rows, mask):
        return [list(r) for r, m in zip(rows, mask, strict=True) if m]

    g_old, g_new = pick(gold, old), pick(gold, new)
    b_old, a_old = pick(before, old), pick(after, old)
    before_old, after_old = prefix_accuracy(b_old, g_old), prefix_accuracy(a_old, g_old)
    return {
        "old_labels": {
            "documents": len(g_old),
            "before": before_old,
            "after": after_old,
            "drop": None if before_old is None else before_old - after_old,
            "unchanged_predictions": sum(b == a for b, a in zip(b_old, a_old, strict=True)),
        },
        "new_labels": {
            "documents": len(g_new),
            "before": prefix_accuracy(pick(before, new), g_new),
            "after": prefix_accuracy(pick(after, new), g_new),
        },
    }


def old_label_accuracy(estimator, texts: Sequence[str], gold_paths: Sequence, gold_hierarchy: Hierarchy) -> float:
    """Share of documents whose predicted path starts with their gold path (compared by node ids, so a
    prediction of a new child under the gold node counts as correct); returns a float in [0, 1]."""
    if not len(texts):
        return 0.0
    preds = estimator.predict(list(texts))
    h = estimator.hierarchy_
    ok = 0
    for pred, gold in zip(preds, as_multi(gold_paths), strict=True):
        gold_ids = [gold_hierarchy.ids[v] for v in gold[0]]
        pred_ids = [h.ids[v] for v in pred[0]][: len(gold_ids)]
        ok += pred_ids == gold_ids
    return ok / len(texts)


def forgetting_report(old_estimator, new_estimator, texts_old: Sequence[str], paths_old: Sequence) -> dict:
    """Accuracy on the old labels before and after the update: {"before", "after", "drop"}."""
    h = old_estimator.hierarchy_
    before = old_label_accuracy(old_estimator, texts_old, paths_old, h)
    after = old_label_accuracy(new_estimator, texts_old, paths_old, h)
    return {"before": before, "after": after, "drop": before - after}


__all__ = [
    "changed_groups",
    "forgetting_figures",
    "forgetting_report",
    "old_label_accuracy",
    "prefix_accuracy",
    "rehearsal_sample",
    "update_for_new_labels",
]
