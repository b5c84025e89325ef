"""Data and scoring helpers for the issue-10 benchmark (cold start, growth, cascade).

Datasets come from ../shared/datasets (never copied into the repository). Subsets are seeded samples
kept in the file's order, so a row can be reproduced from its (dataset, size, seed).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def datasets_dir() -> Path:
    """$HTC_DATASETS_DIR, else the first `shared/datasets` beside the project or one level up (a worktree)."""
    if os.environ.get("HTC_DATASETS_DIR"):
        return Path(os.environ["HTC_DATASETS_DIR"])
    candidates = [ROOT.parent.parent / "shared" / "datasets", ROOT.parent.parent.parent / "shared" / "datasets"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


DATASETS = datasets_dir()
CACHE = ROOT / ".cache" / "embeddings"


@dataclass
class Dataset:
    name: str
    hierarchy: object
    docs: list[dict]  # each with "text", "gold" (a path of node indices) and, for 20NG, "split"


def load_dataset(name: str) -> Dataset | None:
    """The dataset `name` (folder under ../shared/datasets) with gold paths as node indices; None if absent."""
    from classifiers.engine.hierarchy import Hierarchy

    folder = DATASETS / name
    jsonl = folder / f"{name}.jsonl"
    if not jsonl.exists():
        return None
    h = Hierarchy.from_tree(json.loads((folder / "taxonomy.json").read_text()))
    docs = []
    with jsonl.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            gold = h.path_from_names(row["path"])
            if gold:
                docs.append({"text": row["text"], "gold": gold, "split": row.get("split", "")})
    return Dataset(name, h, docs)


def seeded_subset(items: Sequence, n: int | None, seed: int) -> list:
    """`n` items drawn with `random.Random(seed)`, kept in their original order (all items if n is None/too big)."""
    items = list(items)
    if n is None or n >= len(items):
        return items
    picked = sorted(random.Random(seed).sample(range(len(items)), n))
    return [items[i] for i in picked]


def path_scores(gold: Sequence, pred: Sequence, hierarchy) -> dict:
    """exact (full-path accuracy), micro_f1, l1 (level-1 accuracy) and per-document correctness `ok`."""
    from classifiers.engine.metrics import evaluate

    gold_m = [[tuple(g)] for g in gold]
    pred_m = [[tuple(p[0])] if p else [] for p in pred]
    m = evaluate(gold_m, pred_m, hierarchy)
    ok = [bool(p) and p[0] == g[0] for p, g in zip(pred_m, gold_m, strict=True)]
    level1 = (m.get("per_level") or [{}])[0].get("accuracy", float("nan"))
    return {"exact": float(m["exact_path_accuracy"]), "micro_f1": float(m["micro_f1"]), "l1": float(level1), "ok": ok}


def fmt(value: float | None, digits: int = 3) -> str:
    """A number for a table cell ("–" for None)."""
    if value is None:
        return "–"
    return f"{value:.{digits}f}"
