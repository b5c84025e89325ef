"""HierVerb speed (pipeline vs bare encoder) and accuracy rows on 20 Newsgroups.

`run(quick=False) -> str` measures, on the same documents and token lengths:
- prediction: `HierVerbClassifier.predict` (tokenise + prompt + encoder + verbalizers + decode) against a bare
  encoder forward over the same id lists and length-sorted batches; the ratio is the pipeline's overhead;
- training: seconds per epoch of `fit` (dropout views, CE + HCC + FHC, AdamW) against a bare encoder
  forward + backward over the same batches (views included).
`accuracy_rows(...)` trains hierverb on K shots per leaf (K = 1, 4; seeded) and evaluates on the 20NG test split
with the engine's metrics, for the accuracy benchmark to add as rows.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import torch

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets" / "20newsgroups"
# CPU budget: 10 epochs instead of the paper's 20, so higher learning rates than its 5e-5 / 1e-4.
BENCH_PARAMS = {"epochs": 10, "lr": 2e-4, "lr_verbalizer": 1e-3, "max_length": 128}
METRIC_KEYS = ("micro_f1", "macro_f1", "c_micro_f1", "c_macro_f1", "p_micro_f1", "p_macro_f1", "h_f1")


def make_hierverb(seed: int = 550, **overrides):
    """A hierverb estimator with the benchmark's parameters (for an accuracy bench's (name, factory) list)."""
    from classifiers.engine.verbalizer import HierVerbClassifier

    return HierVerbClassifier(**{**BENCH_PARAMS, "seed": seed, **overrides})


FACTORIES = [("hierverb", make_hierverb)]


def load_20ng(limit_per_split: int | None = None) -> tuple[list[dict], list[dict], list[dict]] | None:
    """(taxonomy tree, train docs, test docs) from the shared 20NG copy, or None when it is absent."""
    path = DATASET / "20newsgroups.jsonl"
    if not path.exists():
        return None
    tree = json.loads((DATASET / "taxonomy.json").read_text())
    train, test = [], []
    with path.open() as fh:
        for line in fh:
            doc = json.loads(line)
            (train if doc["split"] == "train" else test).append(doc)
    if limit_per_split:
        train, test = train[:limit_per_split], _spread(test, limit_per_split)
    return tree, train, test


def _spread(docs: list[dict], n: int) -> list[dict]:
    """Every k-th document so a subset covers all groups (the file is sorted by group)."""
    step = max(1, len(docs) // n)
    return docs[::step][:n]


def _synthetic_docs(n: int) -> list[str]:
    words = "the model reads a long message about engines hardware games medicine space religion politics".split()
    return [" ".join(words[(i + j) % len(words)] for j in range(20 + (i * 37) % 300)) for i in range(n)]


def _time(fn, repeats: int) -> float:
    """Median wall seconds of `repeats` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed_table(texts: Sequence[str], *, max_length: int = 256, batch_size: int = 32, train_docs: int = 32) -> str:
    """Markdown: hierverb (its default features: the pooled state for a sentence encoder) against the bare encoder
    on the same token ids and length-sorted batches. Prediction: `predict` (tokenise + encoder + pooling + path
    scores + decode) vs a bare forward (+ the pooling, for pooled features); ratio = pipeline docs/s / bare docs/s.
    Training: one epoch of `fit` vs a bare forward + backward over the same batches."""
    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.engine.plm import collate, length_sorted_batches, mean_pool, states_at
    from classifiers.engine.verbalizer import HierVerbClassifier

    hierarchy = Hierarchy.from_paths([["a", "a1"], ["a", "a2"], ["b", "b1"], ["b", "b2"]])
    leaf_paths = hierarchy.leaf_paths()
    train_texts = list(texts[:train_docs])
    train_paths = [leaf_paths[i % len(leaf_paths)] for i in range(len(train_texts))]
    clf = HierVerbClassifier(max_length=max_length, eval_batch_size=batch_size, epochs=0)
    clf.fit(train_texts, train_paths, hierarchy)
    encoder, pad = clf.net_.encoder, clf.tokenizer_.pad_token_id or 0
    pooled = clf.pooled_
    ids = clf.token_ids(list(texts))
    batches = length_sorted_batches([len(x) for x in ids], batch_size)
    mean_tokens = sum(len(x) for x in ids) / len(ids)

    def features(hidden, attention):
        if pooled:
            return mean_pool(hidden, attention)
        return states_at(hidden, clf.prompt_.mask_positions)

    def bare_forward():
        with torch.inference_mode():
            for rows in batches:
                input_ids, attention = collate([ids[i] for i in rows], pad)
                features(encoder(input_ids=input_ids, attention_mask=attention).last_hidden_state, attention)

    clf.predict(texts[:batch_size])  # warm-up
    # alternate the two so that load from elsewhere falls on both alike
    pipeline_runs, bare_runs = [], []
    for _ in range(3):
        pipeline_runs.append(_time(lambda: clf.predict(texts), 1))
        bare_runs.append(_time(bare_forward, 1))
    pipeline_s, bare_s = statistics.median(pipeline_runs), statistics.median(bare_runs)

    # training: one epoch of fit vs bare forward+backward over the same batches (twice each with dropout views)
    epoch_clf = HierVerbClassifier(max_length=max_length, epochs=1, seed=550)
    fit_s = _time(lambda: epoch_clf.fit(train_texts, train_paths, hierarchy), 1)
    train_ids = epoch_clf.token_ids(train_texts)
    bsz = epoch_clf.batch_size
    views = (0, 1) if epoch_clf.dropout_views_ else (0,)
    train_batches = [
        [i for i in range(s, min(s + bsz, len(train_ids))) for _ in views] for s in range(0, len(train_ids), bsz)
    ]
    bare_encoder = epoch_clf.net_.encoder
    bare_encoder.train()

    def bare_train():
        for rows in train_batches:
            input_ids, attention = collate([train_ids[i] for i in rows], pad)
            hidden = bare_encoder(input_ids=input_ids, attention_mask=attention).last_hidden_state
            features(hidden, attention).sum().backward()
            bare_encoder.zero_grad(set_to_none=True)

    bare_train_s = _time(bare_train, 1)
    kind = "mean-pooled state" if pooled else "[MASK] states"
    lines = [
        f"Documents: {len(texts)}, max_length {max_length} (text truncated), mean {mean_tokens:.0f} tokens, eval "
        f"batch {batch_size}, torch threads {torch.get_num_threads()}, device cpu, features: {kind}, encoder "
        f"{Path(clf.encoder_path_).parent.name}/{Path(clf.encoder_path_).name}. Prediction: medians of 3 "
        "alternating runs.",
        "",
        "| measure | pipeline | bare encoder | pipeline / bare |",
        "|---|---|---|---|",
        f"| prediction docs/s | {len(texts) / pipeline_s:.1f} | {len(texts) / bare_s:.1f} (forward + pooling) "
        f"| {bare_s / pipeline_s:.2f} |",
        f"| training s/epoch ({len(train_texts)} docs, batch {bsz}{' x 2 dropout views' if len(views) > 1 else ''})"
        f" | {fit_s:.2f} (fit: loading the encoder and embedding the path texts included) | {bare_train_s:.2f}"
        f" (fwd+bwd) | {bare_train_s / fit_s:.2f} |",
    ]
    return "\n".join(lines)


def accuracy_rows(
    *,
    shots: Sequence[int] = (1, 4),
    seeds: Sequence[int] = (550,),
    test_limit: int | None = None,
    params: dict | None = None,
    data=None,
) -> list[dict]:
    """Hierverb on 20NG (2 levels): one row per (K, seed) with the engine metrics on the test split.

    K documents per leaf are sampled with `fewshot.sample_few_shot(paths, K, seed)`; the same seed seeds
    training. `params` default to `BENCH_PARAMS`. `test_limit` evaluates on an evenly spread subset (quick
    checks); None = the full test split."""
    from classifiers.engine.fewshot import sample_few_shot
    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.engine.metrics import evaluate
    from classifiers.engine.verbalizer import HierVerbClassifier

    data = data or load_20ng()
    if data is None:
        return []
    tree, train, test = data
    hierarchy = Hierarchy.from_tree(tree)
    train_paths = [[hierarchy.path_from_names(d["path"])] for d in train]
    if test_limit:
        test = _spread(test, test_limit)
    test_texts = [d["text"] for d in test]
    test_gold = [[hierarchy.path_from_names(d["path"])] for d in test]
    rows = []
    for k in shots:
        for seed in seeds:
            picked = sample_few_shot(train_paths, k, seed)
            clf = HierVerbClassifier(**{"seed": seed, **(BENCH_PARAMS if params is None else params)})
            start = time.perf_counter()
            clf.fit([train[i]["text"] for i in picked], [train_paths[i][0] for i in picked], hierarchy)
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            predicted = clf.predict(test_texts)
            predict_s = time.perf_counter() - start
            result = evaluate(test_gold, predicted, hierarchy)
            row = {"strategy": "hierverb", "k": k, "seed": seed, "n_train": len(picked), "n_test": len(test)}
            row.update({key: float(result[key]) for key in METRIC_KEYS})
            row["exact_path_accuracy"] = float(result["exact_path_accuracy"])
            row["consistency"] = float(result["consistency"])
            row["train_seconds"] = round(train_s, 1)
            row["predict_docs_per_s"] = round(len(test) / max(predict_s, 1e-9), 1)
            rows.append(row)
    return rows


def accuracy_markdown(rows: Sequence[dict]) -> str:
    if not rows:
        return "20 Newsgroups not available: no accuracy rows."
    keys = ["k", "seed", "n_train", "n_test", *METRIC_KEYS, "exact_path_accuracy", "consistency"]
    keys += ["train_seconds", "predict_docs_per_s"]
    head = "| " + " | ".join(keys) + " |"
    sep = "|" + "---|" * len(keys)
    body = [
        "| "
        + " | ".join(
            f"{r[k]:.3f}"
            if isinstance(r[k], float) and k in METRIC_KEYS + ("exact_path_accuracy", "consistency")
            else str(r[k])
            for k in keys
        )
        + " |"
        for r in rows
    ]
    return "\n".join([head, sep, *body])


def run(quick: bool = False, threads: int = 1) -> str:
    """Markdown: speed table, then hierverb accuracy rows (quick: K=1, 200 test docs, 2 epochs)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        data = load_20ng()
        texts = (
            [d["text"] for d in _spread(data[2], 64 if quick else 512)]
            if data
            else _synthetic_docs(64 if quick else 512)
        )
        parts = ["## HierVerb speed", "", speed_table(texts, train_docs=16 if quick else 64)]
        if quick:
            rows = accuracy_rows(
                shots=(1,), seeds=(550,), test_limit=200, params={**BENCH_PARAMS, "epochs": 2}, data=data
            )
            note = "Quick check: K=1, seed 550, 2 epochs, 200 evenly spread test documents (not comparable)."
        else:
            rows = accuracy_rows(shots=(1, 4), seeds=(550,), data=data)
            note = (
                "K shots per leaf sampled with seed 550 (training seeded with it too), full 20NG test split, "
                f"params {BENCH_PARAMS}."
            )
        parts += ["", "## HierVerb accuracy (20 Newsgroups, 2 levels)", "", note, "", accuracy_markdown(rows)]
        return "\n".join(parts) + "\n"
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    import sys

    print(run(quick="--quick" in sys.argv))
