"""Model selection helpers shared by tfidf's `mode="auto"`, `ensemble` and `auto`: a seeded stratified
held-out share of the training documents (when there is no dev split) and dev scoring by exact path."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from classifiers.engine.hierarchy import Hierarchy, Path, as_multi


def stratified_holdout(paths: Sequence, share: float = 0.2, seed: int = 0) -> tuple[list[int], list[int]]:
    """(kept, held-out) document indices: about `share` of the documents of every path (named by the last
    node of a document's first path) held out, seeded. A path with fewer than 3 documents keeps them all,
    so every path the training share had stays learnable."""
    by_path: dict[int, list[int]] = defaultdict(list)
    for i, doc_paths in enumerate(as_multi(paths)):
        key = int(doc_paths[0][-1]) if doc_paths and doc_paths[0] else -1
        by_path[key].append(i)
    rng = np.random.RandomState(seed)
    held: list[int] = []
    for key in sorted(by_path):
        docs = by_path[key]
        if len(docs) < 3:
            continue
        take = max(1, int(round(share * len(docs))))
        held += [docs[int(j)] for j in rng.permutation(len(docs))[:take]]
    held_set = set(held)
    return [i for i in range(len(as_multi(paths))) if i not in held_set], sorted(held)


def has_dev(dev) -> bool:
    return dev is not None and len(dev[0]) > 0


def dev_or_holdout(texts: Sequence[str], paths: Sequence, dev, *, share: float = 0.2, seed: int = 0):
    """(train_texts, train_paths, dev_texts, dev_paths, source): the given dev split, else a stratified
    held-out share of the training documents (source "held-out"); dev lists are empty when neither exists."""
    texts = list(texts)
    paths = as_multi(paths)
    if has_dev(dev):
        return texts, paths, list(dev[0]), as_multi(dev[1]), "dev"
    kept, held = stratified_holdout(paths, share, seed)
    if not held:
        return texts, paths, [], [], "none"
    return (
        [texts[i] for i in kept],
        [paths[i] for i in kept],
        [texts[i] for i in held],
        [paths[i] for i in held],
        "held-out",
    )


def exact_path(pred: Sequence[Sequence[Path]], gold: Sequence[Sequence[Path]]) -> float:
    """Share of documents whose predicted set of paths equals the gold set."""
    if not gold:
        return 0.0
    same = [{tuple(p) for p in a} == {tuple(g) for g in b} for a, b in zip(pred, gold, strict=True)]
    return float(np.mean(same))


def dev_metrics(pred: Sequence[Sequence[Path]], gold: Sequence[Sequence[Path]], hierarchy: Hierarchy) -> dict:
    """The few dev figures a leaderboard shows: exact path, micro / macro F1 and the example-based F1."""
    from classifiers.engine.metrics import evaluate

    m = evaluate(list(gold), list(pred), hierarchy)
    keys = ("exact_path_accuracy", "micro_f1", "macro_f1", "example_f1", "p_micro_f1")
    return {k: float(m[k]) for k in keys if k in m}


def texts_digest(texts: Sequence[str]) -> str:
    """A key for a list of texts (to reuse scores computed for the same batch)."""
    h = hashlib.sha256()
    for t in texts:
        h.update(str(t).encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()
