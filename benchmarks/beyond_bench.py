"""Issue 10 rows: cold start (weak pipeline vs plain zero-shot, 0 labels), taxonomy growth (old-label accuracy
before/after an update with rehearsal), and the confidence cascade at several thresholds with cost columns.

`run(quick=False) -> str`. Quick mode uses a few hundred documents; the full mode is not tuned yet.
Accuracy is exact full-path accuracy of the single predicted path against the first gold path.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
# nominal cost units per document: a local classifier on cached features vs a MiniLM zero-shot pass
COST_CHEAP, COST_NEXT = 1.0, 20.0


def _load(name: str, n_train: int, n_test: int, seed: int = 0):
    from classifiers.engine.hierarchy import Hierarchy

    folder = DATASETS / name
    jsonl = folder / f"{name}.jsonl"
    if not jsonl.exists():
        return None
    h = Hierarchy.from_tree(json.loads((folder / "taxonomy.json").read_text()))
    docs = [json.loads(line) for line in jsonl.open()]
    rng = random.Random(seed)
    rng.shuffle(docs)
    train = [d for d in docs if d.get("split", "train") == "train"]
    test = [d for d in docs if d.get("split") == "test"] or train[n_train:]
    train, test = train[:n_train], test[:n_test]

    def paths(items):
        return [h.path_from_ids([" > ".join(d["path"][: k + 1]) for k in range(len(d["path"]))]) for d in items]

    return h, [d["text"] for d in train], paths(train), [d["text"] for d in test], paths(test)


def _accuracy(est, texts, gold) -> float:
    preds = est.predict(texts)
    return sum(p[0] == g for p, g in zip(preds, gold, strict=True)) / max(1, len(gold))


def cold_start_rows(name: str, n: int) -> list[str]:
    from classifiers.engine.coldstart import WeakSupervisionClassifier
    from classifiers.engine.zeroshot import ZeroShotClassifier

    data = _load(name, n, n)
    if data is None:
        return [f"| {name} | (dataset absent) | | | |"]
    h, train_x, _, test_x, test_y = data
    rows = []
    t = time.perf_counter()
    zs = ZeroShotClassifier().fit([], [], h)
    rows.append(f"| {name} | zeroshot | 0 | {_accuracy(zs, test_x, test_y):.3f} | {time.perf_counter() - t:.0f} |")
    for base in ("tfidf", "embed"):
        t = time.perf_counter()
        weak = WeakSupervisionClassifier(base=base, base_params={"min_df": 1} if base == "tfidf" else None)
        weak.fit(train_x, [], h)
        acc = _accuracy(weak, test_x, test_y)
        rows.append(
            f"| {name} | weak ({base}, {len(weak.pseudo_labelled_)} pseudo) | 0 | {acc:.3f} "
            f"| {time.perf_counter() - t:.0f} |"
        )
    return rows


def growth_rows(n: int) -> list[str]:
    """Collapse one internal 20NG node into a leaf, train tfidf, then split it back with an update."""
    from classifiers.engine.baselines import TfidfLocalClassifier
    from classifiers.engine.growth import forgetting_report, update_for_new_labels
    from classifiers.engine.hierarchy import Hierarchy

    data = _load("20newsgroups", n, n)
    if data is None:
        return ["| (dataset absent) | | | | |"]
    h, train_x, train_y, test_x, test_y = data
    split = max((v for v in h.levels[0] if h.children[v]), key=lambda v: len(h.children[v]))
    keep = [v for v in range(len(h)) if split not in h.path_to(v)[:-1]]
    old_h = Hierarchy(
        ids=[h.ids[v] for v in keep],
        names=[h.names[v] for v in keep],
        parent=[keep.index(h.parent[v]) if h.parent[v] >= 0 else -1 for v in keep],
    )

    def to_old(paths):
        return [old_h.path_from_ids([h.ids[v] for v in p if v in keep]) for p in paths]

    under = [i for i, p in enumerate(train_y) if split in p]
    others = [i for i in range(len(train_y)) if split not in train_y[i]]
    old = TfidfLocalClassifier(min_df=1).fit(train_x, to_old(train_y), old_h)
    rows = []
    for rehearsal in (0.0, 0.3):
        t = time.perf_counter()
        new = update_for_new_labels(
            old,
            h,
            [train_x[i] for i in under],
            [train_y[i] for i in under],
            [train_x[i] for i in others],
            to_old([train_y[i] for i in others]),
            rehearsal=rehearsal,
            seed=0,
        )
        rep = forgetting_report(old, new, test_x, to_old(test_y))
        rows.append(
            f"| split {h.names[split]!r} ({len(h.children[split])} children) | {rehearsal} | {rep['before']:.3f} "
            f"| {rep['after']:.3f} | {_accuracy(new, test_x, test_y):.3f} ({time.perf_counter() - t:.1f} s) |"
        )
    return rows


def cascade_rows(n: int) -> list[str]:
    """tfidf (few labels) as the cheap stage, zero-shot + terms as the next; calibrated on a dev slice."""
    import numpy as np

    from classifiers.engine.base import decode_scores, path_confidence
    from classifiers.engine.baselines import TfidfLocalClassifier
    from classifiers.engine.calibration import (
        apply_temperatures,
        expected_calibration_error,
        fit_level_temperatures,
        threshold_sweep,
    )
    from classifiers.engine.zeroshot import ZeroShotClassifier

    data = _load("20newsgroups", n, n)
    if data is None:
        return ["| (dataset absent) | | | | |"]
    h, train_x, train_y, test_x, test_y = data
    half = len(test_x) // 2
    dev_x, dev_y, ev_x, ev_y = test_x[:half], test_y[:half], test_x[half:], test_y[half:]
    cheap = TfidfLocalClassifier(min_df=1).fit(train_x, train_y, h)
    temps = fit_level_temperatures(cheap.predict_scores(dev_x), h, dev_y)
    raw = cheap.predict_scores(ev_x)
    rows = []
    for label, scores in (("raw", raw), ("calibrated", apply_temperatures(raw, temps))):
        paths = decode_scores(scores, h, "top_down")
        conf = [float(np.prod(c)) for c in path_confidence(scores, h, paths)]
        ok = [p == g for p, g in zip(paths, ev_y, strict=True)]
        rows.append(f"| ECE {label} | {expected_calibration_error(conf, ok):.3f} | | | |")
    nxt = ZeroShotClassifier().fit([], [], h)
    ok_next = [p[0] == g for p, g in zip(nxt.predict(ev_x), ev_y, strict=True)]
    for r in threshold_sweep(conf, ok, ok_next, COST_CHEAP, COST_NEXT, [0.0, 0.2, 0.4, 0.6, 0.8, 1.01]):
        rows.append(f"| {r['threshold']:.2f} | {r['accuracy']:.3f} | {r['escalated']:.2f} | {r['cost']:.1f} | |")
    return rows


def run(quick: bool = False) -> str:
    import torch

    torch.set_num_threads(1)
    n = 150 if quick else 600
    out = ["# Beyond: cold start, taxonomy growth, confidence cascade", ""]
    out += [f"Documents per split: {n} (quick={quick}). Accuracy = exact full path.", ""]
    out += [
        "## Cold start (0 labels)",
        "",
        "| dataset | strategy | labels | accuracy | seconds |",
        "|---|---|---|---|---|",
    ]
    for name in ("20newsgroups", "dbpedia298_generated"):
        out += cold_start_rows(name, n)
    out += [
        "",
        "## Growth update (tfidf)",
        "",
        "| change | rehearsal | old-label acc before | after | new full-path acc |",
        "|---|---|---|---|---|",
    ]
    out += growth_rows(n)
    out += [
        "",
        f"## Cascade tfidf -> zeroshot (costs {COST_CHEAP} / {COST_NEXT} per doc)",
        "",
        "| threshold | accuracy | escalated | cost/doc | |",
        "|---|---|---|---|---|",
    ]
    out += cascade_rows(n)
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(run(quick=True))
