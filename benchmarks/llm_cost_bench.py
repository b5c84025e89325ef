"""What DL, DH and TMH cost on the large taxonomies (DBpedia-298, Amazon-531) through the local SmolLM2 server:
`run(n_docs=100) -> str` (Markdown), the `cost` section of llm.md.

Per dataset, strategy and k (0 and 2 examples per class at the level asked): LLM calls, prompt and completion
tokens per document and seconds per document, on the same seeded sample of documents (examples drawn from the
other documents). SmolLM2-135M cannot classify (accuracy is near chance and is not the point): the table
measures how each strategy's prompts grow with the taxonomy, which is what a real endpoint bills. TMH asks one
level at a time with only the children of its last answer, DH sends the whole tree, DL every leaf path.

    python -m benchmarks.llm_cost_bench [--docs 100] [--datasets dbpedia298,amazon531] [--k 0,2] [--strategies DL,DH,TMH]

`--strategies TMH,TMH-doc` compares TMH's order (one level of every document per round, documents under the
same label one after another, so llama.cpp reuses their common prompt prefix) with the order before it
(`TMH-doc`: every level of one document, then the next document). `--prefill` times how fast the model reads
a long prompt with the local server's settings before and now (fused attention, `HTC_LLM_FLASH_ATTN`; logits
for the last token only).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from benchmarks.report import md_table

DATASETS = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
FILES = {
    "dbpedia298": ("DBpedia-298", DATASETS / "dbpedia298_generated" / "dbpedia298_generated.jsonl"),
    "amazon531": ("Amazon-531", DATASETS / "amazon531_generated" / "amazon531_generated.jsonl"),
}
SEED = 550
MAX_DOC_CHARS = 600
EXAMPLE_CHARS = 80
N_CTX = 65536  # DL/DH with k = 2 put two examples of every leaf into one prompt (Amazon-531: DL 54k, DH 75k tokens)


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


STRATEGY_NAMES = ("DL", "DH", "TMH")


def measure(
    name: str,
    path: Path,
    base_url: str,
    n_docs: int,
    ks: list[int],
    strategies: tuple[str, ...] = STRATEGY_NAMES,
    batch: int = 0,
) -> list[dict]:
    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.engine.llm.strategies import LLMDirectHierarchical, LLMDirectLeaf, LLMTopDownMultiStep
    from classifiers.engine.metrics import evaluate

    rows = _rows(path)
    rng = random.Random(SEED)
    sample_idx = set(rng.sample(range(len(rows)), min(n_docs, len(rows))))
    sample = [rows[i] for i in sorted(sample_idx)]
    pool = [r for i, r in enumerate(rows) if i not in sample_idx]
    h = Hierarchy.from_paths(sorted({tuple(r["path"]) for r in rows}))
    pool_paths = [h.path_from_names(r["path"]) for r in pool]
    gold = [[h.path_from_names(r["path"])] for r in sample]
    texts = [r["text"] for r in sample]
    host = base_url.split("/")[2]
    out = []

    class TMHOneDocumentAtATime(LLMTopDownMultiStep):
        ask_by_level = False

    made = (
        ("DL", LLMDirectLeaf),
        ("DH", LLMDirectHierarchical),
        ("TMH", LLMTopDownMultiStep),
        ("TMH-doc", TMHOneDocumentAtATime),
    )
    for k in ks:
        for label, cls in made:
            if label not in strategies:
                continue
            est = cls(
                base_url=base_url,
                k=k,
                seed=SEED,
                concurrency=1,
                max_doc_chars=MAX_DOC_CHARS,
                example_chars=EXAMPLE_CHARS,
                timeout=3600,  # the first k = 2 prompt on Amazon-531 reads 54-75k tokens: 20-40 minutes
            ).set_runtime(allowed_hosts=[host])
            est.fit([r["text"] for r in pool], pool_paths, h)
            started = time.monotonic()
            pred, stats = [], {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "failed": 0, "invalid": 0}
            step = batch or len(texts)
            for at in range(0, len(texts), step):  # batch: as the app asks, HTC_LLM_COMMIT_BATCH documents a call
                pred += est.predict(texts[at : at + step])
                for key in stats:
                    stats[key] += est.stats_[key]
                print(  # what a long row has measured so far, should it be stopped
                    f"llm_cost: {name} {label} k={k}: {len(pred)} of {len(texts)} documents in"
                    f" {time.monotonic() - started:.0f} s, {stats['calls']} calls, {stats['prompt_tokens']} +"
                    f" {stats['completion_tokens']} tokens, failed {stats['failed']}, invalid {stats['invalid']}",
                    file=sys.stderr,
                    flush=True,
                )
            seconds = time.monotonic() - started
            n = len(texts)
            metrics = evaluate(gold, pred, h)
            out.append(
                {
                    "dataset": name,
                    "nodes": len(h),
                    "strategy": label + (f", {batch} a batch" if batch else ""),
                    "k": k,
                    "documents": n,
                    "calls": stats["calls"] / n,
                    "prompt": stats["prompt_tokens"] / n,
                    "completion": stats["completion_tokens"] / n,
                    "seconds": seconds / n,
                    "failed": stats["failed"],
                    "invalid": stats["invalid"],
                    "exact": metrics["exact_path_accuracy"],
                }
            )
            r = out[-1]
            print(
                f"llm_cost: {name} {label} k={k}: {seconds:.0f} s, {r['calls']:.2f} calls/doc, "
                f"{r['prompt']:.0f} + {r['completion']:.0f} tok/doc,"
                f" failed {r['failed']}",
                file=sys.stderr,
                flush=True,
            )
    return out


def count_prompt_tokens(n_docs: int, datasets: list[str], ks: list[int]) -> str:
    """DL's and DH's prompt tokens per document without a server: each strategy's only prompt (`first_messages`),
    rendered with the model's own chat template and counted by its own tokenizer (llama.cpp, vocabulary only).
    For prompts too long to send through the local server; the counts equal the server's `usage` (see llm.md)."""
    import jinja2
    import llama_cpp

    from classifiers.engine.hierarchy import Hierarchy
    from classifiers.engine.llm.strategies import LLMDirectHierarchical, LLMDirectLeaf
    from htc_app.llm_server import model_path

    vocab = llama_cpp.Llama(model_path=str(model_path()), vocab_only=True, verbose=False)
    template = jinja2.Environment().from_string(vocab.metadata["tokenizer.chat_template"])

    def tokens(messages: list[dict[str, str]]) -> int:
        text = template.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token="")
        return len(vocab.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    body = []
    for name in datasets:
        label, path = FILES[name]
        rows = _rows(path)
        sample_idx = set(random.Random(SEED).sample(range(len(rows)), min(n_docs, len(rows))))
        sample = [rows[i] for i in sorted(sample_idx)]
        pool = [r for i, r in enumerate(rows) if i not in sample_idx]
        h = Hierarchy.from_paths(sorted({tuple(r["path"]) for r in rows}))
        for k in ks:
            for strategy, cls in (("DL", LLMDirectLeaf), ("DH", LLMDirectHierarchical)):
                est = cls(
                    base_url="http://127.0.0.1:9/v1",
                    k=k,
                    seed=SEED,
                    max_doc_chars=MAX_DOC_CHARS,
                    example_chars=EXAMPLE_CHARS,
                )
                est.fit([r["text"] for r in pool], [h.path_from_names(r["path"]) for r in pool], h)
                counts = [tokens(est.first_messages(r["text"])) for r in sample]
                body.append(
                    [
                        f"{label} ({len(h)})",
                        strategy,
                        k,
                        len(counts),
                        f"{sum(counts) / len(counts):.0f}",
                        f"{max(counts)}",
                    ]
                )
    head = ["dataset (tree nodes)", "strategy", "k", "documents", "prompt tokens/doc", "largest prompt"]
    return "\n".join(md_table(head, body)) + "\n"


#: The local server's settings compared by `prefill_table`: before this change, and the two parts of it.
PREFILL_CONFIGS = (
    ("logits for every token, plain attention (before)", {"logits_all": True, "flash_attn": False}),
    ("logits for every token, fused attention", {"logits_all": True, "flash_attn": True}),
    ("last token's logits, fused attention (now)", {"logits_all": False, "flash_attn": True}),
)


def prefill_table(lengths: tuple[int, ...] = (2048, 8192), threads: int = 2) -> str:
    """How fast the local model reads a prompt of n tokens, and then 150 more after it (a document after a cached
    label list), under each of `PREFILL_CONFIGS` (what `llm_server_command` passes: `--logits_all`,
    `--flash_attn`): same binary and model, one after the other. The logits kept for every token cost
    n_ctx x vocabulary x 4 bytes of memory."""
    import llama_cpp

    from htc_app.llm_server import model_path

    words = " ".join(["apple banana cherry delta echo foxtrot golf hotel india juliet kilo lima mike"] * 20000)
    body = []
    for n in lengths:
        base = None
        for name, config in PREFILL_CONFIGS:
            llm = llama_cpp.Llama(
                model_path=str(model_path()),
                n_ctx=n + 256,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
                **config,
            )
            tokens = llm.tokenize(words.encode(), add_bos=True)[:n]
            started = time.monotonic()
            llm.eval(tokens)
            read = time.monotonic() - started
            started = time.monotonic()
            llm.eval(llm.tokenize(b" the document text" * 60, add_bos=False)[:150])
            more = time.monotonic() - started
            logits_gb = (n + 256 if config["logits_all"] else 1) * llm.n_vocab() * 4 / 1e9
            del llm
            base = base or read
            body.append([n, name, f"{read:.1f}", f"{base / read:.2f}x", f"{more:.2f}", f"{logits_gb:.2f}"])
            print(f"llm_cost: prefill {body[-1]}", file=sys.stderr, flush=True)
    head = ["prompt tokens", "server settings", "read (s)", "speed-up", "150 tokens more (s)", "logits kept (GB)"]
    return "\n".join(md_table(head, body)) + "\n"


def table(results: list[dict], n_docs: int, wall: float, threads: int = 2, n_ctx: int = N_CTX) -> str:
    head = [
        "dataset (tree nodes)",
        "strategy",
        "k",
        "documents",
        "calls/doc",
        "prompt tokens/doc",
        "completion tokens/doc",
        "s/doc",
        "failed",
        "invalid",
        "exact path acc.",
    ]
    body = [
        [
            f"{r['dataset']} ({r['nodes']})",
            r["strategy"],
            r["k"],
            r["documents"],
            f"{r['calls']:.2f}",
            f"{r['prompt']:.0f}",
            f"{r['completion']:.1f}",
            f"{r['seconds']:.2f}",
            r["failed"],
            r["invalid"],
            f"{r['exact']:.3f}",
        ]
        for r in results
    ]
    ratios = []
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        for k in dict.fromkeys(r["k"] for r in results):
            by = {r["strategy"]: r for r in results if r["dataset"] == dataset and r["k"] == k}
            if "DH" in by and "TMH" in by and by["DH"]["prompt"] + by["DH"]["completion"]:
                share = (by["TMH"]["prompt"] + by["TMH"]["completion"]) / (by["DH"]["prompt"] + by["DH"]["completion"])
                verdict = "at most half: holds" if share <= 0.5 else "more than half: does not hold"
                ratios.append(f"- {dataset}, k = {k}: TMH spends {share:.2f} of DH's tokens per document ({verdict}).")
    lines = [
        "## LLM cost on the large taxonomies (DBpedia-298, Amazon-531)",
        "",
        f"The same {n_docs} documents per row (seed {SEED}, documents cut at {MAX_DOC_CHARS} characters, examples "
        f"at {EXAMPLE_CHARS}), SmolLM2-135M-Instruct Q4_1 through the real local llama-cpp-python server (CPU, "
        f"{threads} thread{'s' if threads != 1 else ''}, context {n_ctx}, flash attention), constrained JSON answers, temperature 0, one request at a time. k = examples "
        f"per class at the level asked, from the other documents of the dataset. Total wall time {wall:.0f} s.",
        "",
        *md_table(head, body),
        "",
        "The seeds' claim, TMH at most half of DH's tokens per document:",
        *ratios,
        "",
        "- Tokens are the server's own `usage` counts; calls include every level TMH asked (a level with one child",
        "  costs no call). Seconds include the server's prompt processing on a shared two-core machine: read them",
        "  as relative, not absolute. llama.cpp reuses the prompt prefix of the previous request, so a prompt",
        "  that repeats the same label list is cheaper in seconds than its token count suggests; a paid endpoint",
        "  bills every token.",
        "- SmolLM2-135M cannot classify these taxonomies (exact path accuracy is shown only to make that plain).",
        "",
    ]
    return "\n".join(lines)


def run(
    quick: bool = False,
    n_docs: int = 100,
    datasets: list[str] | None = None,
    ks: list[int] | None = None,
    strategies: tuple[str, ...] = STRATEGY_NAMES,
    threads: int = 2,
    batch: int = 0,
    n_ctx: int = N_CTX,
) -> str:
    from htc_app.llm_server import running_llm_server

    if quick:
        n_docs = min(n_docs, 5)
    names = datasets or list(FILES)
    missing = [FILES[n][1] for n in names if not FILES[n][1].exists()]
    if missing:
        return f"## LLM cost on the large taxonomies\n\nSkipped: {', '.join(map(str, missing))} absent.\n"
    started = time.monotonic()
    results: list[dict] = []
    with running_llm_server(n_ctx=n_ctx, threads=threads) as base_url:
        for name in names:
            label, path = FILES[name]
            results += measure(label, path, base_url, n_docs, ks or [0, 2], strategies, batch)
    return table(results, n_docs, time.monotonic() - started, threads, n_ctx)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100)
    parser.add_argument("--datasets", default=",".join(FILES))
    parser.add_argument("--k", default="0,2")
    parser.add_argument("--strategies", default=",".join(STRATEGY_NAMES))
    parser.add_argument("--threads", type=int, default=2, help="the local server's CPU threads")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-ctx", type=int, default=N_CTX, help="the server's context (Amazon-531 DH at k = 2: 77824)")
    parser.add_argument("--batch", type=int, default=0, help="predict N documents a call, as the app does (0: all)")
    parser.add_argument(
        "--count-prompts", action="store_true", help="DL and DH prompt tokens only, counted offline (no server)"
    )
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="prompt reading speed under the server's settings before and now (no server)",
    )
    args = parser.parse_args()
    if args.prefill:
        sys.stdout.write(prefill_table(threads=args.threads))
        sys.exit(0)
    if args.count_prompts:
        sys.stdout.write(
            count_prompt_tokens(
                args.docs, [d for d in args.datasets.split(",") if d], [int(k) for k in args.k.split(",") if k]
            )
        )
        sys.exit(0)
    sys.stdout.write(
        run(
            quick=args.quick,
            n_docs=args.docs,
            datasets=[d for d in args.datasets.split(",") if d],
            ks=[int(k) for k in args.k.split(",") if k],
            strategies=tuple(x for x in args.strategies.split(",") if x),
            threads=args.threads,
            batch=args.batch,
            n_ctx=args.n_ctx,
        )
    )
