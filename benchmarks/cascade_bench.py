"""Issue 10, cascade rows: a cheap few-shot stage, low-confidence documents go to a costlier next stage.

On 20 Newsgroups. Each stage predicts every evaluation document once; the sweep then replays the cascade
at each threshold from the per-document confidences, answers and costs (`sweep`), which is what
`CascadeClassifier` does document by document. One threshold of the LLM variant is also run for real
through `CascadeClassifier` against the local SmolLM2 server, to check that the replay matches it.
Called by beyond_bench; writes benchmarks/results/cascade.svg.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from benchmarks.issue10_common import CACHE, ROOT, fmt, load_dataset, path_scores, seeded_subset
from benchmarks.report import md_table

RESULTS = ROOT / "results"
SEED = 550
PORT = 8091
THRESHOLDS = [0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.01]
REAL_THRESHOLD = 0.6
FULL = {"eval": 1500, "dev": 300, "llm_docs": 100}
QUICK = {"eval": 200, "dev": 100, "llm_docs": 4}
COST_KEYS = ("seconds", "calls", "prompt_tokens", "completion_tokens")
LLM_PARAMS = {"k": 0, "seed": SEED, "concurrency": 1, "max_doc_chars": 600, "timeout": 300}


def _log(msg: str) -> None:
    print(f"cascade: {msg}", file=sys.stderr, flush=True)


def sweep(
    confidences: Sequence[float],
    cheap_ok: Sequence[bool],
    next_ok: Sequence[bool],
    cheap_cost: dict[str, float],
    next_costs: Sequence[dict[str, float]],
    thresholds: Sequence[float],
) -> list[dict]:
    """Replay a two-stage cascade at each threshold.

    Every document pays `cheap_cost` (per document); a document whose cheap confidence is below the
    threshold also pays its own `next_costs[i]` and takes the next stage's answer. Returns per threshold:
    threshold, accuracy, escalated (fraction), escalated_docs, and for each cost key the total and per doc."""
    conf = np.asarray(confidences, dtype=float)
    cheap = np.asarray(cheap_ok, dtype=bool)
    nxt = np.asarray(next_ok, dtype=bool)
    if not (len(conf) == len(cheap) == len(nxt) == len(next_costs)):
        raise ValueError("confidences, answers and costs must have one entry per document")
    n = len(conf)
    out = []
    for t in thresholds:
        esc = conf < t
        row = {
            "threshold": float(t),
            "accuracy": float(np.where(esc, nxt, cheap).mean()) if n else 0.0,
            "escalated": float(esc.mean()) if n else 0.0,
            "escalated_docs": int(esc.sum()),
        }
        for key in COST_KEYS:
            total = n * float(cheap_cost.get(key, 0.0)) + sum(
                float(next_costs[i].get(key, 0.0)) for i in np.flatnonzero(esc)
            )
            row[key] = total
            row[key + "_per_doc"] = total / n if n else 0.0
        out.append(row)
    return out


def _confidences(est, scores, h) -> tuple[list[float], list]:
    from classifiers.engine.base import decode_scores, path_confidence

    paths = decode_scores(scores, h, getattr(est, "decode", "best_path"))
    return [float(np.prod(c)) if c else 0.0 for c in path_confidence(scores, h, paths)], paths


def _cheap_stage(name, est, train, dev, ev, h, enc_s: float) -> dict:
    """Fit on the few-shot sample, calibrate on dev, score the evaluation documents."""
    from classifiers.engine.calibration import apply_temperatures, expected_calibration_error, fit_level_temperatures

    start = time.perf_counter()
    est.fit([d["text"] for d in train], [[d["gold"]] for d in train], h)
    fit_s = time.perf_counter() - start
    temps = fit_level_temperatures(est.predict_scores([d["text"] for d in dev]), h, [d["gold"] for d in dev])
    start = time.perf_counter()
    raw = est.predict_scores([d["text"] for d in ev])
    head_s = (time.perf_counter() - start) / len(ev)
    conf_raw, paths = _confidences(est, raw, h)
    conf, _ = _confidences(est, apply_temperatures(raw, temps), h)
    s = path_scores([d["gold"] for d in ev], [[p] for p in paths], h)
    per_doc = head_s + (enc_s if name.startswith("embed") else 0.0)
    return {
        "name": name, "est": est, "temps": temps, "conf": conf, "ok": s["ok"], "exact": s["exact"],
        "ece_raw": expected_calibration_error(conf_raw, s["ok"]), "ece": expected_calibration_error(conf, s["ok"]),
        "fit_seconds": fit_s, "seconds_per_doc": per_doc, "n_train": len(train),
    }  # fmt: skip


def _encoder_seconds(texts: list[str]) -> float:
    """Seconds per document of an uncached MiniLM encode (the cache hides this cost in the stage timings)."""
    from classifiers.engine.embeddings import SentenceEmbedder

    SentenceEmbedder().encode(texts[:8])  # load the model outside the timing
    start = time.perf_counter()
    SentenceEmbedder().encode(texts)
    return (time.perf_counter() - start) / len(texts)


def _llm_stage(cheap: dict, sub_idx: list[int], ev: list[dict], h) -> dict:
    """LLM TMH on the subset: a real CascadeClassifier run at REAL_THRESHOLD, then the remaining documents."""
    from classifiers.engine.cascade import CascadeClassifier
    from classifiers.engine.config import configure, engine_config
    from classifiers.engine.llm.strategies import LLMTopDownMultiStep
    from htc_app.llm_server import running_llm_server

    host = f"127.0.0.1:{PORT}"
    configure(llm_allowed_hosts=dict.fromkeys([*engine_config().llm_allowed_hosts, host]))
    texts = [ev[i]["text"] for i in sub_idx]
    log = RESULTS.parent / ".cache" / "llm_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with running_llm_server(PORT, n_ctx=4096, threads=2, log_path=log) as base_url:
        llm = LLMTopDownMultiStep(base_url=base_url, **LLM_PARAMS).fit([], [], h)
        casc = CascadeClassifier(
            stages=[{"strategy": "tfidf", "threshold": REAL_THRESHOLD}, {"strategy": "llm-tmh", "params": LLM_PARAMS}]
        )
        casc.hierarchy_, casc.estimators_ = h, [cheap["est"], llm]
        casc.temperatures_ = [cheap["temps"], [1.0] * h.n_levels]
        casc.correctors_ = [None, None]  # no stage corrector: the replay sweep has none either
        start = time.perf_counter()
        casc_pred = casc.predict(texts)
        casc_s = time.perf_counter() - start
        escalated = [j for j, st in enumerate(casc.stages_) if st == 1]
        real = {"threshold": REAL_THRESHOLD, "seconds": casc_s, "escalated_docs": len(escalated), **llm.stats_}
        per_doc: dict[int, dict] = {}
        answers: dict[int, tuple] = {}
        if escalated:
            share = llm.stats_["seconds"] / len(escalated)
            for j, tok in zip(escalated, llm.tokens_, strict=True):
                per_doc[j] = {"calls": tok["calls"], "prompt_tokens": tok["prompt"],
                              "completion_tokens": tok["completion"], "seconds": share}  # fmt: skip
                answers[j] = tuple(casc_pred[j][0]) if casc_pred[j] else ()
        rest = [j for j in range(len(texts)) if j not in per_doc]
        if rest:
            pred = llm.predict([texts[j] for j in rest])
            share = llm.stats_["seconds"] / len(rest)
            for j, tok, p in zip(rest, llm.tokens_, pred, strict=True):
                per_doc[j] = {"calls": tok["calls"], "prompt_tokens": tok["prompt"],
                              "completion_tokens": tok["completion"], "seconds": share}  # fmt: skip
                answers[j] = tuple(p[0]) if p else ()
    ok = [answers[j] == tuple(ev[i]["gold"]) for j, i in enumerate(sub_idx)]
    real_ok = [bool(p) and tuple(p[0]) == tuple(ev[i]["gold"]) for p, i in zip(casc_pred, sub_idx, strict=True)]
    real["accuracy"] = sum(real_ok) / len(real_ok)
    return {"ok": ok, "costs": [per_doc[j] for j in range(len(texts))], "real": real}


def _rate(seconds_per_doc: float) -> str:
    """Documents per second for a table cell: whole numbers from 10 up, two decimals below."""
    rate = 1 / max(seconds_per_doc, 1e-9)
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.2f}"


def _sweep_table(rows: list[dict], n_docs: int, label: str, with_llm: bool, full_test: int) -> list[list]:
    table = []
    for r in rows:
        t = r["threshold"]
        when = "cheap stage alone" if t == 0 else ("next stage alone" if r["escalated"] == 1 and t > 1 else "")
        cells = [label, f"{t:.2f}" + (f" ({when})" if when else ""), fmt(r["accuracy"]), f"{r['escalated']:.2f}",
                 f"{r['seconds_per_doc'] * 1000:.1f}", _rate(r["seconds_per_doc"])]  # fmt: skip
        if with_llm:
            tok = r["prompt_tokens"] + r["completion_tokens"]
            cells += [int(r["calls"]), f"{int(r['prompt_tokens'])} + {int(r['completion_tokens'])}",
                      f"{tok / n_docs:.0f}", f"{tok / n_docs * full_test / 1e6:.2f} M"]  # fmt: skip
        else:
            cells += [0, "0", "0", "0"]
        table.append(cells)
    return table


def prepare(quick: bool) -> dict | None:
    """Data, the tfidf cheap stage (no encoder needed) and the LLM subset; None without 20 Newsgroups."""
    from classifiers.engine.baselines import TfidfLocalClassifier

    cfg = QUICK if quick else FULL
    ng = load_dataset("20newsgroups")
    if ng is None:
        return None
    h = ng.hierarchy
    train = [d for d in ng.docs if d["split"] == "train"]
    test = [d for d in ng.docs if d["split"] == "test"]
    ev = seeded_subset(test, cfg["eval"], SEED)
    ctx = {"cfg": cfg, "h": h, "train": train, "n_test": len(test), "ev": ev}
    ctx["tfidf"] = _fewshot_stage("tfidf K=16", 16, TfidfLocalClassifier(min_df=1), ctx, 0.0)
    n_llm = min(cfg["llm_docs"], len(ev))
    ctx["sub_idx"] = sorted(seeded_subset(list(range(len(ev))), n_llm, SEED + 1))
    return ctx


def _fewshot_stage(name: str, k: int, est, ctx: dict, enc_s: float) -> dict:
    from classifiers.engine.fewshot import sample_few_shot

    train = ctx["train"]
    picked = sample_few_shot([[d["gold"]] for d in train], k, SEED)
    chosen = set(picked)
    pool = [i for i in range(len(train)) if i not in chosen]
    dev = [train[i] for i in seeded_subset(pool, ctx["cfg"]["dev"], SEED)]
    stage = _cheap_stage(name, est, [train[i] for i in picked], dev, ctx["ev"], ctx["h"], enc_s)
    _log(f"{name}: exact {stage['exact']:.3f}")
    return stage


def start_llm(ctx: dict):
    """Run the LLM variant in a background thread (the work happens in the server process); returns a Future."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llm-stage")
    future = pool.submit(_llm_stage, ctx["tfidf"], ctx["sub_idx"], ctx["ev"], ctx["h"])
    pool.shutdown(wait=False)
    return future


def section(quick: bool, ctx: dict | None = None, llm_future=None) -> tuple[list[str], list[dict]]:
    from benchmarks import svgplot
    from classifiers.engine.baselines import EmbeddingLocalClassifier, TfidfLocalClassifier
    from classifiers.engine.embeddings import SentenceEmbedder
    from classifiers.engine.zeroshot import ZeroShotClassifier

    ctx = ctx or prepare(quick)
    if ctx is None:
        return ["### Cascade", "", "20 Newsgroups is absent: no rows."], []
    cfg, h, ev, n_test, sub_idx = ctx["cfg"], ctx["h"], ctx["ev"], ctx["n_test"], ctx["sub_idx"]
    ev_texts = [d["text"] for d in ev]
    enc_s = _encoder_seconds(ev_texts[:100] if not quick else ev_texts[:20])
    SentenceEmbedder(cache_dir=str(CACHE)).encode(ev_texts)  # warm the cache: stage timings below are head-only
    embed = _fewshot_stage("embed K=4", 4, EmbeddingLocalClassifier(cache_dir=str(CACHE)), ctx, enc_s)
    weak = _fewshot_stage("tfidf K=4", 4, TfidfLocalClassifier(min_df=1), ctx, 0.0)
    cheaps = [ctx["tfidf"], embed, weak]
    zs = ZeroShotClassifier(cache_dir=str(CACHE)).fit([], [], h)
    start = time.perf_counter()
    zs_pred = zs.predict(ev_texts)
    zs_s = (time.perf_counter() - start) / len(ev) + enc_s
    zs_ok = path_scores([d["gold"] for d in ev], zs_pred, h)["ok"]
    raw: list[dict] = []
    table: list[list] = []
    plot_zs = []
    for c in cheaps:
        rows = sweep(c["conf"], c["ok"], zs_ok, {"seconds": c["seconds_per_doc"]}, [{"seconds": zs_s}] * len(ev),
                     THRESHOLDS)  # fmt: skip
        raw.append({"cascade": f"{c['name']} -> zeroshot", "n_docs": len(ev), "sweep": rows,
                    "ece_raw": c["ece_raw"], "ece": c["ece"], "temperatures": c["temps"]})  # fmt: skip
        table += _sweep_table(rows, len(ev), f"{c['name']} -> zeroshot", False, n_test)
        plot_zs.append((f"{c['name']} -> zeroshot", [(r["seconds_per_doc"] * 1000, r["accuracy"]) for r in rows]))
    llm_lines: list[str] = []
    plot_llm = []
    n_llm = len(sub_idx)
    try:
        cheap = cheaps[0]
        llm = llm_future.result() if llm_future is not None else _llm_stage(cheap, sub_idx, ev, h)
        rows = sweep([cheap["conf"][i] for i in sub_idx], [cheap["ok"][i] for i in sub_idx], llm["ok"],
                     {"seconds": cheap["seconds_per_doc"]}, llm["costs"], THRESHOLDS)  # fmt: skip
        raw.append({"cascade": f"{cheap['name']} -> llm-tmh", "n_docs": n_llm, "sweep": rows, "real_run": llm["real"],
                    "per_doc_costs": llm["costs"]})  # fmt: skip
        table += _sweep_table(rows, n_llm, f"{cheap['name']} -> llm-tmh", True, n_test)
        tok = [(r["prompt_tokens"] + r["completion_tokens"]) / n_llm for r in rows]
        plot_llm.append((f"{cheap['name']} -> llm-tmh", [(t, r["accuracy"]) for t, r in zip(tok, rows, strict=True)]))
        real = llm["real"]
        replay = next(r for r in rows if r["threshold"] == REAL_THRESHOLD)
        llm_lines = [
            f"- Real `CascadeClassifier` run, tfidf K=16 -> llm-tmh at threshold {REAL_THRESHOLD} on the "
            f"{n_llm} LLM documents: {real['escalated_docs']} escalated (replay: {replay['escalated_docs']}), "
            f"{real.get('calls', 0)} LLM calls, {real.get('prompt_tokens', 0)} + {real.get('completion_tokens', 0)} "
            f"tokens, {real['seconds']:.0f} s, accuracy {real['accuracy']:.3f} (replay: {replay['accuracy']:.3f}).",
        ]
    except Exception as exc:  # the server may be missing: keep the other rows
        llm_lines = [f"- LLM variant not measured: {type(exc).__name__}: {exc}"]
        _log(llm_lines[0])
    svg = svgplot.chart(
        [
            {
                "title": f"cascade -> zeroshot ({len(ev)} docs)",
                "x_label": "ms per document (CPU)",
                "y_label": "exact-path accuracy",
                "series": plot_zs,
            },
            {
                "title": f"tfidf K=16 -> llm-tmh ({n_llm} docs, SmolLM2-135M)",
                "x_label": "LLM tokens per document",
                "y_label": "exact-path accuracy",
                "series": plot_llm,
            },
        ]  # fmt: skip
    )
    (RESULTS / "cascade.svg").write_text(svg, encoding="utf-8")
    head = ["cascade", "threshold", "exact path acc", "escalated", "ms/doc", "docs/s", "LLM calls",
            "prompt + completion tokens", "tokens/doc", "extrapolated tokens, full test split"]  # fmt: skip
    stages_txt = ", ".join(f"{c['name']} ({c['n_train']} docs)" for c in cheaps)
    ece_txt = ", ".join(f"{c['name']} {c['ece_raw']:.3f} -> {c['ece']:.3f}" for c in cheaps)
    llm_alone = raw[-1]["sweep"][-1]["accuracy"] if raw and raw[-1].get("real_run") else None
    lines = [
        "### Confidence cascade (20 Newsgroups)",
        "",
        f"- Evaluation: {len(ev)} test documents (seeded subset, seed {SEED}); the LLM variant on {n_llm} of them "
        f"(seed {SEED + 1}). Cheap stages (K = training documents per leaf, sampled with seed {SEED}; embed = "
        f"MiniLM + logistic regression): {stages_txt}. tfidf K=4 is weaker than zeroshot, to show a cascade "
        f"that can beat both of its stages. Per-level temperatures fitted on {cfg['dev']} other labelled training "
        f"documents (seed {SEED}); ECE raw -> calibrated: {ece_txt}. Confidence = product of the calibrated "
        "per-level scores of the predicted path.",
        "- Threshold 0 = the cheap stage alone; 1.01 = every document escalated = the next stage alone.",
        f"- ms/doc: measured per stage and summed over the documents each stage sees. MiniLM encoding is measured "
        f"uncached ({enc_s * 1000:.1f} ms/doc) and added to embed and zeroshot (the cache would otherwise hide it); "
        "zeroshot pays its own encode even after embed (a deployment could share it). LLM ms/doc = the server's "
        "wall time per escalated document (2 threads, CPU).",
        "- **The LLM stage is SmolLM2-135M-Instruct (Q4) on the local llama.cpp server: it cannot classify "
        f"(accuracy near chance{'' if llm_alone is None else f', {llm_alone:.3f} alone here'}), so the llm-tmh "
        "rows measure cost plumbing (calls, tokens, seconds) only, not the "
        "accuracy a capable LLM would add.** Zero-shot examples (k=0), documents cut to 600 characters. "
        f"Tokens are counted by the server; `extrapolated tokens, full test split` = tokens/doc x {n_test} "
        "(an extrapolation, not a measurement). The LLM variant ran in the server process while the cold-start and "
        "growth sections computed, so all timings share the two cores (and other users of the machine).",
        *llm_lines,
        "",
        *md_table(head, table),
        "",
        "![Cascade accuracy vs cost](cascade.svg)",
    ]
    return lines, raw
