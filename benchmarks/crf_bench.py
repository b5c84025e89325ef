"""CRF correction on 20 Newsgroups: `run(quick=False) -> str` (Markdown).

For the 2-level tree (`path`) and the ragged 2-5-level Usenet naming tree (`path_fine`, built from every
document's `path_fine`), at K = 1, 4, 16 training documents per leaf (seed 550, the HierVerb/HierICRF sampler),
the tfidf and embed baselines give per-level scores on a seeded sample of test documents, decoded as:

- argmax: independent per level (HierVerb's default; may be inconsistent);
- top_down: the baselines' own greedy decoding;
- crf: the CRF corrector unfitted (= constrained decoding, the best valid path by summed log-scores);
- crf+train: fitted on the strategy's scores of its own training documents (what the app does);
- crf+dev: fitted on K other labelled documents per leaf (scores the strategy has not been trained on).

Columns: consistency (share of valid paths; the corrector must give 100%), P-Micro-F1 (methods.md §2),
Micro-F1, exact path accuracy, the share of documents the corrector changed (vs argmax), and the corrector's
seconds (fit + correct). Run alone with `python -m benchmarks.crf_bench [--quick]`.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "20newsgroups" / "20newsgroups.jsonl"
SEED = 550
SHOTS = (1, 4, 16)
TREES = ("path", "path_fine")


def _load() -> tuple[list[dict], list[dict]]:
    train, test = [], []
    with open(DATASET, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            (train if row["split"] == "train" else test).append(row)
    return train, test


def _strategies(cache_dir: str) -> dict:
    from classifiers.engine.baselines import EmbeddingLocalClassifier, TfidfLocalClassifier

    return {
        "tfidf": lambda: TfidfLocalClassifier(),
        "embed": lambda: EmbeddingLocalClassifier(cache_dir=cache_dir),  # one cache: each text is embedded once
    }


def _fmt(x: float) -> str:
    return f"{100 * x:.1f}"


def _rows_for(name, make, tree, k, data, hierarchy) -> tuple[list[list[str]], list[str]]:
    """Table rows for one strategy at one K on one tree, and notes where the corrector lowers P-Micro-F1."""
    from classifiers.engine.base import decode_argmax, decode_top_down
    from classifiers.engine.corrector import CRFCorrector
    from classifiers.engine.metrics import evaluate

    train_texts, train_paths, dev_texts, dev_paths, test_texts, test_paths = data
    model = make().fit(train_texts, train_paths, hierarchy)
    scores = model.predict_scores(test_texts)
    gold = [[p] for p in test_paths]
    argmax = decode_argmax(scores, hierarchy)
    decodings: dict[str, tuple[list, float, float | None]] = {"argmax": (argmax, 0.0, None)}
    decodings["top_down"] = (decode_top_down(scores, hierarchy), 0.0, None)
    fits = {"crf": None, "crf+train": (train_texts, train_paths), "crf+dev": (dev_texts, dev_paths)}
    for label, fit_on in fits.items():
        fit_scores = model.predict_scores(fit_on[0]) if fit_on else None
        started = time.perf_counter()
        corrector = CRFCorrector()
        if fit_on:
            corrector.fit(fit_scores, fit_on[1], hierarchy)
        paths, changed = corrector.correct(scores, hierarchy)
        decodings[label] = (paths, time.perf_counter() - started, float(changed.mean()))
    rows, notes = [], []
    base = None
    for label, (paths, seconds, changed) in decodings.items():
        m = evaluate(gold, [[p] for p in paths], hierarchy)
        if label == "argmax":
            base = m["p_micro_f1"]
        elif label.startswith("crf") and m["p_micro_f1"] < base:
            notes.append(f"{tree} K={k} {name} {label}: P-Micro-F1 {_fmt(base)} -> {_fmt(m['p_micro_f1'])}")
        rows.append(
            [
                tree, str(k), name, label, _fmt(m["consistency"]), _fmt(m["p_micro_f1"]), _fmt(m["micro_f1"]),
                _fmt(m["exact_path_accuracy"]), "" if changed is None else _fmt(changed),
                "" if not label.startswith("crf") else f"{seconds:.2f}",
            ]
        )  # fmt: skip
    return rows, notes


def run(quick: bool = False, n_test: int | None = None) -> str:
    from classifiers.engine.fewshot import sample_dev, sample_few_shot
    from classifiers.engine.hierarchy import Hierarchy

    title = ["## CRF correction of per-level scores on 20 Newsgroups", ""]
    if not DATASET.exists():
        return "\n".join(title + [f"Skipped: {DATASET} is absent.", ""])
    n_test = n_test or (300 if quick else None)
    train, test = _load()
    if n_test:
        test = random.Random(SEED).sample(test, min(n_test, len(test)))
    header = [
        "tree",
        "K",
        "strategy",
        "decoding",
        "consistency %",
        "P-Micro-F1",
        "Micro-F1",
        "exact %",
        "changed %",
        "crf s",
    ]
    lines = [
        *title,
        f"Test documents: {len(test)}{' (seeded sample, quick mode)' if n_test else ' (full test split)'}; "
        f"K training documents per leaf, seed {SEED}; crf+dev fits on K other training documents per leaf.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="crf-bench-emb-") as cache_dir:
        strategies = _strategies(cache_dir)
        for tree in TREES:
            hierarchy = Hierarchy.from_paths([row[tree] for row in train + test])
            train_paths = [hierarchy.path_from_names(row[tree]) for row in train]
            test_texts = [row["text"] for row in test]
            test_paths = [hierarchy.path_from_names(row[tree]) for row in test]
            for k in SHOTS:
                tr = sample_few_shot(train_paths, k, SEED)
                dv = sample_dev(train_paths, k, SEED, exclude=tr)
                data = (
                    [train[i]["text"] for i in tr], [train_paths[i] for i in tr],
                    [train[i]["text"] for i in dv], [train_paths[i] for i in dv],
                    test_texts, test_paths,
                )  # fmt: skip
                for name, make in strategies.items():
                    rows, found = _rows_for(name, make, tree, k, data, hierarchy)
                    lines += ["| " + " | ".join(r) + " |" for r in rows]
                    notes += found
    lines += ["", f"Total {time.perf_counter() - started:.0f} s."]
    lines += [
        "",
        "Where a corrector lowers P-Micro-F1 below argmax:" if notes else "The corrector never lowers P-Micro-F1.",
    ]
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
