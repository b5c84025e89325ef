"""`make bench`: run the benchmark modules and write one Markdown file each to benchmarks/results/.

    python -m benchmarks.run [--only accuracy,import,...] [--quick]

Each module has `run(quick=...) -> str`. A module that fails writes its error into its file and the others go on.
`accuracy` and `beyond` (the issue-10 rows: cold start, growth, cascade) write two sections of accuracy.md.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.report import write_section

RESULTS = Path(__file__).resolve().parent / "results"
BENCHES = {
    "import": "benchmarks.import_bench",
    "jobs": "benchmarks.jobs_bench",
    "review": "benchmarks.review_bench",
    "accuracy": "benchmarks.accuracy_bench",
    "crf": "benchmarks.crf_bench",
    "throughput": "benchmarks.verbalizer_bench",
    "llm": "benchmarks.llm_bench",
    "llm_cost": "benchmarks.llm_cost_bench",
    "beyond": "benchmarks.beyond_bench",
    "selection": "benchmarks.selection_bench",
}
# benchmarks that write a section of another results file: name -> (file stem, section name)
SECTIONS = {
    "accuracy": ("accuracy", "strategies"),
    "beyond": ("accuracy", "issue10"),
    "llm_cost": ("llm", "cost"),
    "llm": ("llm", "20ng"),
    "selection": ("accuracy", "selection"),
}
SECTION_ORDER = ["strategies", "issue10", "selection", "cost", "20ng"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="Comma-separated names: " + ", ".join(BENCHES))
    parser.add_argument("--quick", action="store_true", help="Small samples, to check the benchmarks run.")
    parser.add_argument("--test-limit", type=int, default=None, help="Seeded test subset (modules that support it).")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "htc_app.settings")
    names = [n for n in args.only.split(",") if n] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in names:
        started = time.perf_counter()
        print(f"== {name}", file=sys.stderr)
        kwargs: dict = {}
        try:
            module = importlib.import_module(BENCHES[name])
            params = inspect.signature(module.run).parameters
            kwargs = {"quick": args.quick} if "quick" in params else {}
            if args.test_limit and "test_limit" in params:
                kwargs["test_limit"] = args.test_limit
            body = module.run(**kwargs)
        except Exception:
            failed += 1
            body = f"## {name}\n\nThe benchmark failed:\n\n```\n{traceback.format_exc()}```\n"
        minutes = (time.perf_counter() - started) / 60
        mode = f" (--test-limit {args.test_limit})" if args.test_limit and "test_limit" in kwargs else ""
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        footer = (
            f"\n_Measured {stamp} on this machine in {minutes:.1f} min{' (quick mode)' if args.quick else ''}{mode}._\n"
        )
        stem, section = SECTIONS.get(name, (name, None))
        if section:
            write_section(RESULTS / f"{stem}.md", section, body + footer, SECTION_ORDER)
        else:
            (RESULTS / f"{stem}.md").write_text(body + footer)
        print(f"   wrote benchmarks/results/{stem}.md ({minutes:.1f} min)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
