"""Issue 16: tfidf flat vs local, `ensemble` and `auto` against the single strategies, per corpus.

    python -m benchmarks.selection_bench [--parts 20ng-full,20ng-full-encoder,20ng-subset,20ng-fewshot,dbpedia,amazon]
    python -m benchmarks.selection_bench --parts 20ng-full-finetuned   # TF-IDF x fine-tuned MiniLM x embed (hours)

Every part appends its rows to benchmarks/results/selection_rows.json (so parts can run one at a time on two
shared cores); the Markdown section `selection` of accuracy.md is rebuilt from all stored rows. Corpora without a
test split (the generated DBpedia-298 and Amazon-531) get a seeded split per leaf path (2 test documents of 5).
`auto` and `ensemble` see no dev split here (20NG has none, the generated corpora neither): they hold out a seeded
stratified 20 % of the training documents, as a run does on such a project. Subset sizes and seeds are in the
tables. Encoder embeddings are cached under benchmarks/.cache/ (train s / docs/s of encoder rows count a warm
cache where an earlier row encoded the same texts).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from benchmarks.issue10_common import CACHE, load_dataset, seeded_subset
from benchmarks.report import md_table, merge_rows, write_section

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = RESULTS / "selection_rows.json"
SEEDS = [550, 171, 13]
AUTO_DEFAULT_BUDGET = "auto, budget 20 min"  # the default budget: hierverb is a candidate at few shots
PARTS = ("20ng-full", "20ng-full-encoder", "20ng-subset", "20ng-fewshot", "dbpedia", "amazon")
FINETUNED_ENSEMBLE = "ensemble tfidf+hierverb+embed, no refit"  # part 20ng-full-finetuned: about 1.5 h on one core
WITHOUT_FINETUNED = "ensemble tfidf+embed, no refit"  # the same without the fine-tuned member: what it adds


def _split_per_path(docs: list[dict], test_per_path: int, seed: int) -> tuple[list[dict], list[dict]]:
    by_path: dict[tuple, list[dict]] = defaultdict(list)
    for d in docs:
        by_path[tuple(d["gold"])].append(d)
    rng = random.Random(seed)
    train, test = [], []
    for key in sorted(by_path):
        group = list(by_path[key])
        rng.shuffle(group)
        test += group[:test_per_path]
        train += group[test_per_path:]
    return train, test


def _estimator(name: str, budget: float):
    from classifiers.engine.registry import make_strategy

    cache = str(CACHE)
    embed = {"strategy": "embed", "params": {"cache_dir": cache}}
    zeroshot = {"strategy": "zeroshot", "params": {"cache_dir": cache}}
    table = {
        "tfidf local": ("tfidf", {"mode": "local"}),
        "tfidf flat": ("tfidf", {"mode": "flat"}),
        "tfidf auto": ("tfidf", {}),
        "embed": ("embed", {"cache_dir": cache}),
        "zeroshot": ("zeroshot", {"cache_dir": cache}),
        "ensemble tfidf+embed": ("ensemble", {"members": [{"strategy": "tfidf", "params": {}}, embed]}),
        "auto": (
            "auto",
            {
                "candidates": [zeroshot, {"strategy": "tfidf", "params": {}}, embed, {"strategy": "hierverb"}],
                "budget_minutes": budget,
            },
        ),
    }
    table[AUTO_DEFAULT_BUDGET] = ("auto", {**table["auto"][1], "budget_minutes": 20.0})  # hierverb can fit
    # a fine-tuned encoder as a member on a CPU: two epochs on the 80 % share, not refitted on all (`refit`)
    tuned = {"strategy": "hierverb", "params": {"epochs": 2}}
    flat = {"strategy": "tfidf", "params": {"mode": "flat"}}
    table[FINETUNED_ENSEMBLE] = ("ensemble", {"members": [flat, tuned, embed], "refit": False})
    table[WITHOUT_FINETUNED] = ("ensemble", {"members": [flat, embed], "refit": False})
    strategy, params = table[name]
    return make_strategy(strategy, **params)


def _measure(corpus: str, name: str, hierarchy, train: list[dict], test: list[dict], *, shots, seed, budget, notes):
    from classifiers.engine.metrics import evaluate

    est = _estimator(name, budget)
    t0 = time.perf_counter()
    est.fit([d["text"] for d in train], [[tuple(d["gold"])] for d in train], hierarchy)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = est.predict([d["text"] for d in test])
    predict_s = time.perf_counter() - t0
    m = evaluate([[tuple(d["gold"])] for d in test], pred, hierarchy)
    row = {
        "corpus": corpus,
        "strategy": name,
        "shots": shots,
        "seed": seed,
        "n_train": len(train),
        "n_test": len(test),
        "exact": float(m["exact_path_accuracy"]),
        "micro_f1": float(m["micro_f1"]),
        "macro_f1": float(m["macro_f1"]),
        "train_s": train_s,
        "docs_per_s": len(test) / max(predict_s, 1e-9),
        "notes": notes,
    }
    if name.startswith("auto"):
        row["kept"] = est.chosen_name_
        row["leaderboard"] = [
            {k: r.get(k) for k in ("name", "status", "train_seconds", "dev")} for r in est.leaderboard_
        ]
    if name.startswith("tfidf") or name.startswith("ensemble"):
        chosen = getattr(est, "mode_", None)
        if chosen:
            row["kept"] = f"mode={chosen}"
        if name.startswith("ensemble"):
            row["kept"] = "weights " + " / ".join(f"{w:.2f}" for w in est.weights_)
    print(f"{corpus} {name} K={shots} seed={seed}: exact {row['exact']:.3f} ({train_s:.0f} s)", file=sys.stderr)
    return row


def part_rows(
    part: str, budget: float, subset: int, paths_subset: int = 0, *, shots=(), seeds=(), strategies=()
) -> list[dict]:
    """`shots`, `seeds` and `strategies` narrow the 20ng-fewshot part (all of them when empty; `strategies` also
    20ng-full-finetuned); `paths_subset` > 0 puts the generated corpora's encoder rows on that many leaf paths (0:
    all, the same split as tfidf)."""
    from classifiers.engine.fewshot import sample_few_shot

    rows = []
    if part.startswith("20ng"):
        data = load_dataset("20newsgroups")
        if data is None:
            return []
        h = data.hierarchy
        train = [d for d in data.docs if d["split"] == "train"]
        test = [d for d in data.docs if d["split"] == "test"]
        if part == "20ng-full":
            for name in ("tfidf local", "tfidf flat", "tfidf auto"):
                rows.append(
                    _measure("20newsgroups", name, h, train, test, shots="all", seed=550, budget=budget, notes="")
                )
        elif part == "20ng-full-encoder":  # hours on shared cores; run after the embeddings are cached
            for name in ("zeroshot", "embed", "ensemble tfidf+embed", "auto"):
                rows.append(
                    _measure("20newsgroups", name, h, train, test, shots="all", seed=550, budget=budget, notes="")
                )
        elif part == "20ng-full-finetuned":
            for name in strategies or (FINETUNED_ENSEMBLE, WITHOUT_FINETUNED):
                rows.append(
                    _measure("20newsgroups", name, h, train, test, shots="all", seed=550, budget=budget, notes="")
                )
        elif part == "20ng-subset":
            tr, te = seeded_subset(train, subset, 550), seeded_subset(test, subset, 550)
            note = f"seeded subsets (seed 550): {len(tr)} train / {len(te)} test"
            for name in ("zeroshot", "tfidf auto", "embed", "ensemble tfidf+embed", "auto"):
                rows.append(_measure("20newsgroups", name, h, tr, te, shots="all", seed=550, budget=budget, notes=note))
        else:
            te = seeded_subset(test, subset, 550)  # the 20ng-subset test documents: their embeddings are cached
            paths = [[tuple(d["gold"])] for d in train]
            for k in shots or (1, 4, 16):
                for seed in seeds or (SEEDS if k < 16 else SEEDS[:1]):
                    tr = [train[i] for i in sample_few_shot(paths, k, seed)]
                    note = (
                        "the full test split"
                        if len(te) == len(test)
                        else f"{len(te)} test documents (seeded subset, seed 550)"
                    ) + f"; auto's budget {budget:g} min"
                    for name in strategies or ("zeroshot", "tfidf auto", "embed", "ensemble tfidf+embed", "auto"):
                        if name == "zeroshot" and seed != SEEDS[0]:
                            continue
                        rows.append(
                            _measure("20newsgroups", name, h, tr, te, shots=k, seed=seed, budget=budget, notes=note)
                        )
        return rows
    dataset = {"dbpedia": "dbpedia298_generated", "amazon": "amazon531_generated"}[part]
    data = load_dataset(dataset)
    if data is None:
        return []
    train, test = _split_per_path(data.docs, 2, 550)
    note = f"seeded split (seed 550): 2 test documents per leaf path, {len(train)} train / {len(test)} test"
    note += f"; auto's budget {budget:g} min" if not paths_subset else ""
    for name in ("tfidf local", "tfidf flat", "tfidf auto"):
        rows.append(
            _measure(dataset, name, data.hierarchy, train, test, shots="all", seed=550, budget=budget, notes=note)
        )
    if not paths_subset:  # the encoder rows on the same split (minutes on a quiet core: the texts are short)
        for name in ("zeroshot", "embed", "ensemble tfidf+embed", "auto"):
            rows.append(
                _measure(dataset, name, data.hierarchy, train, test, shots="all", seed=550, budget=budget, notes=note)
            )
        return rows
    # encoder rows on a seeded subset of leaf paths (for shared cores: `--paths-subset 40`)
    keep = set(seeded_subset(sorted({tuple(d["gold"]) for d in data.docs}), paths_subset, 550))
    sub_train = [d for d in train if tuple(d["gold"]) in keep]
    sub_test = [d for d in test if tuple(d["gold"]) in keep]
    note = (
        f"seeded subset of {len(keep)} leaf paths (seed 550) of that split: {len(sub_train)} train / {len(sub_test)} "
        "test; the other paths stay in the label tree (predictions may pick them)"
    )
    for name in ("zeroshot", "tfidf auto", "embed", "ensemble tfidf+embed", "auto"):
        rows.append(
            _measure(
                dataset, name, data.hierarchy, sub_train, sub_test, shots="all", seed=550, budget=budget, notes=note
            )
        )
    return rows


def _short(name: str | None) -> str:
    """A kept-strategy name without server paths (rows stored before the engine left them out)."""
    name = re.sub(r"cache_dir=[^,)]*(, )?", "", name or "")
    return name.replace("()", "").replace(", )", ")")


def render(rows: list[dict]) -> str:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["corpus"], r["n_test"], str(r["shots"]), r["strategy"])].append(r)
    lines = [
        "## Issue 16: tfidf flat / local, ensemble and auto",
        "",
        "Exact path, micro / macro F1 on the (seeded) test documents; mean ± std over seeds where there are several.",
        "`tfidf auto` = tfidf's default `mode=auto` (flat or local, chosen on a held-out 20 % of the training",
        "documents, then refitted on all). `ensemble tfidf+embed` = log-linear weights on the two path",
        "distributions, fitted on a held-out 20 % (members refitted on all). `auto` = candidates zeroshot, tfidf,",
        "embed, hierverb (skipped when its estimated fine-tuning time exceeds the budget) and an ensemble of the",
        "best two, chosen on the same kind of held-out share; `kept` says what it kept (most frequent over seeds).",
        "K = documents per leaf path (`all` = the whole training set or subset). Train s includes auto's candidates.",
        "",
    ]
    corpora: dict[str, list[tuple]] = defaultdict(list)
    for key in groups:
        corpora[key[0]].append(key)
    for corpus, keys in corpora.items():
        lines += [f"### {corpus}", ""]
        by_setting: dict[tuple, list[tuple]] = defaultdict(list)
        for key in keys:
            by_setting[(key[1], key[2])].append(key)
        for (n_test, shots), setting in by_setting.items():
            first = groups[setting[0]][0]
            lines += [
                f"K = {shots}, {first['n_train']} training documents{' (seed ' + str(first['seed']) + ')' if len(groups[setting[0]]) == 1 else ''}, {n_test} test documents. {first['notes']}",
                "",
            ]
            table = []
            for key in setting:
                rs = groups[key]

                def cell(metric, rs=rs):
                    vals = [r[metric] for r in rs]
                    mean = statistics.mean(vals)
                    return f"{mean:.3f}" + (f" ± {statistics.pstdev(vals):.3f}" if len(vals) > 1 else "")

                kept = Counter(_short(r.get("kept")) for r in rs if r.get("kept"))
                if kept and all(name.startswith("weights ") for name in kept):  # an ensemble's, seed by seed
                    kept_cell = "weights " + "; ".join(_short(r["kept"]).removeprefix("weights ") for r in rs)
                else:  # one name when every seed kept the same; else each with its count, the most frequent first
                    kept_cell = ", ".join(
                        name if len(kept) == 1 else f"{name} ({n})"
                        for name, n in sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))
                    )
                table.append(
                    [
                        key[3],
                        len(rs),
                        cell("exact"),
                        cell("micro_f1"),
                        cell("macro_f1"),
                        f"{statistics.mean(r['train_s'] for r in rs):.1f}",
                        f"{statistics.mean(r['docs_per_s'] for r in rs):.0f}",
                        kept_cell,
                    ]
                )
            lines += md_table(
                ["strategy", "seeds", "exact path", "micro F1", "macro F1", "train s", "predict docs/s", "kept"], table
            )
            lines.append("")
    lines += [
        "Full 20 Newsgroups (11,314 training / 7,532 test documents), encoder rows: measured 2026-12-05 with the",
        "MiniLM embeddings of all 18,846 documents cached first (16 min on one core, about 19 documents/s at 256",
        "tokens), so their train s and docs/s read that cache. `auto` kept the TF-IDF x embed ensemble: 0.870, 0.021",
        "above the best single strategy (tfidf flat 0.849); the issue's outside figure for that ensemble (0.873) is",
        "reproduced within 0.003. With a fine-tuned encoder among the members the target >= 0.88 is reached:",
        f"`{FINETUNED_ENSEMBLE}` (`ensemble` with members tfidf mode=flat, hierverb epochs=2 and embed,",
        "`refit=false`: weights fitted on a seeded held-out 20 % of the training split, each member keeps the model",
        "trained on the other 80 %) scored 0.881, and the same without hierverb 0.864, so the fine-tuned member adds",
        "0.017. Its training took 103 minutes on this CPU (one thread, beside two or three other benchmarks;",
        "hierverb's two epochs over 9,051 documents are nearly all of it); refitting every member on all 11,314",
        "documents would have doubled that, hence `refit=false` (on a GPU a full fit takes about 80 s). `auto`",
        "estimated hierverb's default fine-tuning (four epochs) on the full set at 92 minutes on this CPU and skipped",
        "it at its 10-minute budget. Exploring",
        "other members on a held-out 20 % of the training split (not the test split), a character 2-5-gram TF-IDF",
        "member added nothing beyond word TF-IDF x embed (0.940 against 0.943 held-out exact path), so none was added.",
        "Where a table uses a seeded subset it says so; on small test sets a difference of 0.01-0.02 is within",
        "noise (438 documents: one standard error is about 0.01 at 0.95 accuracy, 0.023 at 0.6).",
        "",
        "Few-shot rows (K = 1 / 4 / 16): the full 7,532-document test split, three sampling seeds at every K.",
        "`auto` (budget 2 minutes: too short to fine-tune, so it skips hierverb) reads cached embeddings (encoder",
        "train s / docs/s read the cache); its K = 4 and 16 rows were measured again after the tie rule below:",
        "0.543 / 0.608 / 0.713, within 0.01 of the best strategy it trained (embed 0.543 / 0.606) except at K = 16,",
        "0.009 below the TF-IDF x embed ensemble strategy (0.722; on seed 171 auto's own ensemble of the best two on",
        "dev was embed + zeroshot, 0.692). hierverb's own rows are in the issue-15 table (0.581 / 0.643 / 0.723,",
        "same samples and test split). `auto, budget 20 min` (the default budget) is what the issue's target is",
        "about. K = 1: nothing can be held out, so the prior order trains hierverb alone: 0.582 (hierverb 0.581).",
        "K = 4 and 16 (measured 2026-12-05 13:00-14:48 UTC): auto counts held-out scores within one standard error",
        "of the best as tied (then the order ensemble, hierverb, embed, tfidf, zeroshot decides), and where the",
        "held-out share is too small to measure what fine-tuning adds (20 / 60 documents, one standard error about",
        "0.10 / 0.06, above the 0.035 measured) and the frozen encoder is not more than one standard error behind",
        "TF-IDF on it, it fine-tunes hierverb once on all training documents and keeps it unscored. K = 4: 0.643",
        "(seeds 171 / 550 / 13: 0.657 / 0.622 / 0.650), equal to hierverb's 0.643; the rule before it kept embed",
        "on seed 171 (0.75 against 0.70 on 20 held-out documents) and scored 0.631. K = 16: 0.727 (0.733 / 0.719",
        "/ 0.728), 0.004 above hierverb's 0.723. On seed 550 TF-IDF led embed on the 60 held-out documents (0.717",
        "against 0.683, two documents, within one standard error): with a rule that asked the encoder to be level or",
        "ahead, hierverb was scored on 80 % of the documents and auto kept ensemble(hierverb + tfidf), 0.707; with",
        "the one-standard-error band it trains hierverb on all 320 and scores 0.719 (that seed's row). Training",
        "took 568-588 s for hierverb at K = 4 and 1,372-1,446 s at K = 16, beside one other benchmark (and for",
        "two seeds a test run or a build): at K = 16 over the 20-minute budget by up to 4 minutes. The budget",
        "bounds what auto plans from its estimate (three forward passes a document and epoch, timed on the loaded",
        "machine), not the wall clock: training on a shared CPU ran longer than that estimate.",
        "",
        "DBpedia-298 and Amazon-531 (generated: 5 documents per leaf path, 3 to train and 2 to test): every row on",
        "the whole split, measured 2026-12-05 with auto's default budget (20 minutes; hierverb's estimated",
        "fine-tuning, 39 and 75 minutes, did not fit and was skipped). auto kept the TF-IDF x embed ensemble on",
        "both and equals the best strategy measured: DBpedia-298 0.975 (tfidf flat 0.961, embed 0.904, zeroshot",
        "0.792 with no training at all); Amazon-531 0.895 (tfidf flat 0.877, embed 0.848, zeroshot 0.775). On",
        "Amazon-531 tfidf and embed tied on the held-out share (0.861) and micro F1 ordered them. These replace the",
        "2026-12-04 encoder rows on 40-path subsets, whose zeroshot was the per-level scorer from before issue 15.",
    ]
    return "\n".join(lines) + "\n"


def _row_key(r: dict) -> tuple:
    return (r["corpus"], r["strategy"], str(r["shots"]), r["seed"], r["n_test"])


def save_rows(new: list[dict]) -> list[dict]:
    """Merge `new` into the stored rows (two parts may run side by side: each keeps the other's rows)."""
    return merge_rows(ROWS, new, _row_key)


def run(quick: bool = False, parts: tuple[str, ...] = PARTS, budget: float = 10.0, subset: int = 300, **narrow) -> str:
    stored = json.loads(ROWS.read_text()) if ROWS.exists() else []
    for part in parts:
        stored = save_rows(part_rows(part, budget, subset, **narrow))
    return render(stored)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--budget", type=float, default=10.0, help="auto's budget in minutes")
    parser.add_argument("--subset", type=int, default=300, help="20NG train / test subset for encoder rows")
    parser.add_argument("--k", default="", help="20ng-fewshot: documents per path, e.g. 4,16 (default 1,4,16)")
    parser.add_argument("--seeds", default="", help="20ng-fewshot: sampling seeds (default 550,171,13)")
    parser.add_argument(
        "--strategies", default="", help=f"20ng-fewshot, 20ng-full-finetuned: row names, e.g. '{AUTO_DEFAULT_BUDGET}'"
    )
    parser.add_argument(
        "--paths-subset", type=int, default=0, help="dbpedia / amazon: encoder rows on N leaf paths (0: all)"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    body = run(
        parts=tuple(p for p in args.parts.split(",") if p),
        budget=args.budget,
        subset=args.subset,
        shots=tuple(int(k) for k in args.k.split(",") if k),
        seeds=tuple(int(k) for k in args.seeds.split(",") if k),
        strategies=tuple(k for k in args.strategies.split(";") if k),
        paths_subset=args.paths_subset,
    )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    minutes = (time.perf_counter() - started) / 60
    body += f"\n_Last part(s) {args.parts} measured {stamp} on this machine (2 shared cores) in {minutes:.1f} min._\n"
    write_section(RESULTS / "accuracy.md", "selection", body, ["strategies", "issue10", "issue15", "selection"])


if __name__ == "__main__":
    main()
