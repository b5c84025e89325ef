"""Exports of predictions and corrections with full paths per level, provenance and scores (CSV-safe)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from classifiers.models import Prediction
from htc_app.csvcells import neutralise_cell
from review.models import Correction
from taxonomies.selectors import taxonomy_tree


def export_depth(*, project) -> int:
    """How many level columns a CSV export has: the depth of the project's taxonomy (at least 1)."""
    return max(taxonomy_tree(taxonomy=project.taxonomy).max_depth(), 1)


def export_rows(*, project, what: str, run=None) -> Iterator[dict]:
    tree = taxonomy_tree(taxonomy=project.taxonomy)

    def names(paths: list[list[int]]) -> list[list[str]]:
        return [[tree.nodes[i].name if i in tree.nodes else f"#{i}" for i in p] for p in paths]

    if what == "predictions":
        qs = Prediction.objects.filter(run=run).select_related("document").order_by("document_id")
        for p in qs.iterator(chunk_size=2000):
            yield {
                "document_id": p.document.external_id,
                "run": run.name,
                "strategy": run.strategy,
                "stage": p.stage,
                "corrector": run.corrector,
                "paths": names(p.paths),
                "raw_paths": names(p.raw_paths),
                "scores": p.scores,
                "consistent": p.consistent,
                "valid": p.valid,
                "provenance": "corrector"
                if p.raw_paths and p.raw_paths != p.paths
                else ("llm" if run.strategy.startswith("llm") else "model"),
            }
    else:
        qs = Correction.objects.filter(project=project).select_related("document", "annotator", "run").order_by("id")
        for c in qs.iterator(chunk_size=2000):
            source = "adjudicated" if c.settles else ("undo" if c.action == Correction.Action.UNDO else "annotator")
            yield {
                "document_id": c.document.external_id,
                "split": c.document.split,
                "annotator": c.annotator.username,
                "created_at": c.created_at.isoformat(),
                "action": c.action,
                "source": source,
                "run": c.run.name if c.run else "",
                "strategy": c.strategy,
                # Older rows (before the uploaded gold was kept apart) did not record it: left empty.
                "uploaded_gold_paths": names(c.gold_paths),
                "gold_before_paths": c.before_names,
                "gold_before_source": c.before_source,
                "predicted_paths": names(c.predicted_paths),
                "after_paths": c.after_names,
                "scores": c.predicted_scores,
                "disagrees_with_gold": c.disagrees_with_gold,
                "test_split": c.test_split,
                "superseded": c.superseded_by_id is not None,
                "settles": c.settles,
                "provenance": "human",
            }


def as_jsonl(rows: Iterator[dict]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False) + "\n"


def as_csv(rows: Iterator[dict], *, depth: int = 8) -> Iterator[str]:
    """One line per row; the first decided (or predicted) path also as `depth` level columns (the taxonomy's
    depth); every cell neutralised."""
    header: list[str] | None = None
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        flat: dict[str, str] = {}
        first_paths = row.get("after_paths") or row.get("paths") or []
        for key, value in row.items():
            if key.endswith("paths"):
                flat[key] = " | ".join(" > ".join(p) for p in value)
            elif isinstance(value, (list, dict)):
                flat[key] = json.dumps(value)
            else:
                flat[key] = str(value)
        for level in range(1, depth + 1):
            flat[f"level{level}"] = first_paths[0][level - 1] if first_paths and len(first_paths[0]) >= level else ""
        if header is None:
            header = list(flat)
            writer.writerow(header)
        writer.writerow([neutralise_cell(flat.get(k, "")) for k in header])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
