"""Issue 15 on 20 Newsgroups: flat zero-shot, embed with the label-name prior, pooled hierverb.

    python -m benchmarks.issue15_bench --part zeroshot|embed|hierverb [--k 1] [--test-limit 1000] [--seeds 550,171,13]
    python -m benchmarks.issue15_bench --render      # writes the `issue15` section of results/accuracy.md

Each part appends its rows to results/issue15.json (one process per part, so a slow part can run alone).
The test set is a seeded stratified subset (seed 550, equal share of every leaf path) unless --test-limit 0.
Few-shot samples are the engine's K-per-leaf sampler with the given seeds. Test embeddings are cached in
benchmarks/.cache/embeddings, so zeroshot and embed encode them once.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.issue10_common import datasets_dir
from benchmarks.report import md_table, merge_rows, write_section

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "embeddings"
RESULTS = ROOT / "results"
STORE = RESULTS / "issue15.json"


def load():
    base = datasets_dir() / "20newsgroups"
    tree = json.loads((base / "taxonomy.json").read_text())
    train, test = [], []
    with open(base / "20newsgroups.jsonl", encoding="utf-8") as fh:
        for line in fh:
            doc = json.loads(line)
            (train if doc["split"] == "train" else test).append(doc)
    return tree, train, test


def stratified_subset(docs: list[dict], n: int, seed: int = 550) -> list[dict]:
    """`n` documents with an equal share of every leaf path (the remainder to the first paths), seeded."""
    if not n or n >= len(docs):
        return docs
    by_path: dict[tuple, list[dict]] = {}
    for d in docs:
        by_path.setdefault(tuple(d["path"]), []).append(d)
    rng = random.Random(seed)
    keys = sorted(by_path)
    share, extra = divmod(n, len(keys))
    picked = []
    for i, key in enumerate(keys):
        pool = by_path[key]
        picked += rng.sample(pool, min(len(pool), share + (1 if i < extra else 0)))
    return sorted(picked, key=lambda d: d["id"])


def machine() -> str:
    return f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), torch threads {os.environ.get('OMP_NUM_THREADS', '?')}"


def save_rows(rows: list[dict]) -> None:
    """Merge `rows` into the store (two parts may run side by side)."""
    merge_rows(STORE, rows, lambda r: (r["strategy"], r["variant"], r["shots"], r["seed"], r["n_test"]), field="rows")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["zeroshot", "embed", "hierverb"])
    parser.add_argument("--k", default="1,4,16")
    parser.add_argument("--seeds", default="550,171,13")
    parser.add_argument("--test-limit", type=int, default=1000)
    parser.add_argument("--variant", default="")
    parser.add_argument("--params", default="{}", help="JSON estimator parameters (hierverb)")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args(argv)
    if args.render:
        render()
        return 0
    from classifiers.engine.baselines import EmbeddingLocalClassifier
    from classifiers.engine.fewshot import sample_few_shot
    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.engine.metrics import evaluate
    from classifiers.engine.verbalizer import HierVerbClassifier
    from classifiers.engine.zeroshot import ZeroShotClassifier

    tree, train, test = load()
    h = Hierarchy.from_tree(tree)
    test_docs = stratified_subset(test, args.test_limit)
    texts = [d["text"] for d in test_docs]
    gold = [[h.path_from_names(d["path"])] for d in test_docs]
    train_paths = [[h.path_from_names(d["path"])] for d in train]
    cache = str(CACHE)
    extra = json.loads(args.params)
    rows = []

    def record(strategy, variant, shots, seed, n_train, est, fit_s, predicted, predict_s):
        m = evaluate(gold, predicted, h)
        row = {
            "strategy": strategy,
            "variant": variant,
            "shots": shots,
            "seed": seed,
            "n_train": n_train,
            "n_test": len(texts),
            "exact": float(m["exact_path_accuracy"]),
            "micro_f1": float(m["micro_f1"]),
            "macro_f1": float(m["macro_f1"]),
            "fit_s": fit_s,
            "predict_s": predict_s,
            "machine": machine(),
            "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        }
        for key in ("prior_weight",):
            if getattr(est, "flat_", None) is not None:
                row[key] = float(est.flat_.get("prior_weight") or 0.0)
        if getattr(est, "history_", None):
            row["epochs_run"] = len(est.history_)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    if args.part == "zeroshot":
        variants = {"flat": {}, "top_down": {"scoring": "top_down"}}
        if args.variant:
            variants = {args.variant: extra}
        for name, params in variants.items():
            est = ZeroShotClassifier(cache_dir=cache, **params)
            t0 = time.perf_counter()
            est.fit([], [], h)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            predicted = est.predict(texts)
            record("zeroshot", name, 0, 0, 0, est, fit_s, predicted, time.perf_counter() - t0)
    else:
        for k in [int(x) for x in args.k.split(",")]:
            for seed in [int(x) for x in args.seeds.split(",")]:
                picked = sample_few_shot(train_paths, k, seed)
                xtr = [train[i]["text"] for i in picked]
                ytr = [train_paths[i] for i in picked]
                if args.part == "embed":
                    variants = {"prior auto": {}, "no prior": {"prior_weight": 0}}
                    made = {n: EmbeddingLocalClassifier(cache_dir=cache, **p) for n, p in variants.items()}
                else:
                    made = {args.variant or "pooled": HierVerbClassifier(seed=seed, **extra)}
                for name, est in made.items():
                    t0 = time.perf_counter()
                    est.fit(xtr, ytr, h)
                    fit_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    predicted = est.predict(texts)
                    record(args.part, name, k, seed, len(picked), est, fit_s, predicted, time.perf_counter() - t0)
                save_rows(rows)
    save_rows(rows)
    return 0


def render() -> None:
    data = json.loads(STORE.read_text())
    groups: dict[tuple, list[dict]] = {}
    for r in data["rows"]:
        groups.setdefault((r["strategy"], r["variant"], r["shots"], r["n_test"]), []).append(r)
    order = {"zeroshot": 0, "embed": 1, "hierverb": 2}
    table = []
    for (strategy, variant, shots, n_test), members in sorted(
        groups.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][2], kv[0][1])
    ):

        def stat(key, members=members):
            values = [m[key] for m in members]
            mean = statistics.mean(values)
            return f"{mean:.3f}" + (f" ± {statistics.pstdev(values):.3f}" if len(values) > 1 else "")

        weights = sorted({round(m["prior_weight"], 4) for m in members if "prior_weight" in m})
        table.append(
            [
                strategy,
                variant,
                shots,
                ",".join(str(m["seed"]) for m in members) if shots else "-",
                n_test,
                stat("exact"),
                stat("micro_f1"),
                stat("macro_f1"),
                "/".join(str(w) for w in weights) if weights else "-",
                f"{statistics.mean(m['fit_s'] for m in members):.0f}",
                f"{statistics.mean(m['predict_s'] for m in members):.0f}",
            ]
        )
    machines = sorted({m["machine"] for m in data["rows"]})
    when = max(m["when"] for m in data["rows"])
    lines = [
        "## Issue 15: flat zero-shot, the label-name prior, pooled hierverb (20 Newsgroups)",
        "",
        "Test set: `test docs` says which. 7532 = the full 20 Newsgroups test split; 1000 = a seeded stratified",
        "subset of it (seed 550, an equal share of every leaf path), measured first for hierverb when the full split",
        "did not fit a session. K = documents per leaf path (the engine's sampler; `seeds` lists the sampling seeds",
        "averaged). 256 tokens everywhere. zeroshot and embed read embeddings cached beforehand, so their fit s /",
        "predict s read that cache. `fit s` / `predict s` are wall seconds on "
        + "; ".join(machines)
        + " shared with other jobs, so they are upper bounds (the hierverb rows on the full split, 2026-12-05",
        " 06:50-09:20 UTC, ran three or four benchmarks on the two cores; the 1,000-document rows one or two).",
        "",
        "- zeroshot `flat` (the default now): cosine of the document with every whole path text, one softmax over",
        "  all root-to-node paths, per-level max-marginals; `top_down`: a softmax per sibling group.",
        "- embed `prior auto` (the default now): flat logistic regression + the zero-shot logits weighted by a",
        "  weight fitted on stratified folds of the training documents (1.0 at K = 1); `no prior` = the old embed.",
        "- hierverb `pooled` (the default for sentence encoders now): mean-pooled MiniLM, path and level vectors",
        "  initialised from the path-text embeddings, full fine-tuning (AdamW, 5e-5 / 1e-3, 10 % warm-up, batch 8,",
        "  epochs 40 / 25 / 15 at K = 1 / 4 / 16).",
        "",
        *md_table(
            [
                "strategy",
                "variant",
                "K",
                "seeds",
                "test docs",
                "exact path",
                "micro F1",
                "macro F1",
                "prior weight",
                "fit s",
                "predict s",
            ],
            table,
        ),
        "",
        "Against the issue's targets (20 Newsgroups, exact path, the full 7,532-document test split): zeroshot flat",
        "0.526 (target >= 0.50); embed with the prior 0.543 at K = 1 (target >= 0.52); hierverb pooled, three seeds,",
        "0.581 / 0.643 / 0.723 at K = 1 / 4 / 16 (targets 0.55 / 0.62 / 0.72: met at every K), above embed with the",
        "prior at every K on the same samples (0.543 / 0.606 / 0.688) and above the issue's outside measurement of",
        "the same recipe (0.523 / 0.597 / 0.691). The 1,000-document subset had put K = 16 at 0.714 with one seed;",
        "the full split with three seeds (0.719, 0.726, 0.724) is the figure to read.",
        "",
        "Training time: K = 16 trained in 16.5 minutes on one core with one other benchmark beside it (the",
        "1,000-document row; the issue's limit is 20 minutes); the full-split rows took 27-37 minutes because three or",
        "four benchmarks shared the two cores. Prediction encodes every test document again: about 7-9 minutes for",
        "7,532 documents on one shared core.",
        "",
        "Options measured beside the default: LoRA (rank 8 on the query and value projections, the encoder frozen),",
        "three seeds on the full split: 0.554 / 0.605 / 0.680 at K = 1 / 4 / 16, against full fine-tuning's",
        "0.581 / 0.643 / 0.723 on the same samples (0.027 / 0.038 / 0.043 lower at every K; about level with embed",
        "and its prior, 0.543 / 0.606 / 0.688). LoRA trained in 179 / 551 / 1,276 s against 286 / 924 / 1,976 s",
        "(both beside other benchmarks: the LoRA rows, 2026-12-05 09:53-11:05 UTC, with two or three on the two",
        "cores): LoRA saves about a third of the training time and loses nearly all of the gain over embed, so",
        "full fine-tuning stays the default (LoRA is for an encoder too large to fine-tune whole). HCC + FHC",
        '(`--variant hcc --params \'{"hcc_weight": 1.0, "fhc_weight": 0.01}\'`) at K = 4, seed 550: 0.637',
        "against 0.622 without (same sample, full split); one seed only (the three-seed spread at K = 4 is 0.016),",
        "so the default stays off until more seeds agree.",
        "",
        "Not measured here (no GPU was lent): training and prediction speed on a GPU (throughput.md).",
        "",
        f"_Last row measured {when}._",
    ]
    write_section(
        RESULTS / "accuracy.md", "issue15", "\n".join(lines) + "\n", ["strategies", "issue10", "issue15", "selection"]
    )


if __name__ == "__main__":
    sys.exit(main())
