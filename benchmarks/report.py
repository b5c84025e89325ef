"""Pieces the benchmark writers share: Markdown tables, named sections in one results file, JSON merging (and row
stores that benchmarks running side by side merge into under a lock).

Several benchmarks write into `accuracy.md`: each owns a section between HTML comment markers
(`<!-- section:NAME -->` ... `<!-- /section:NAME -->`), so running one benchmark replaces only its part.
"""

from __future__ import annotations

import fcntl
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path

_SECTION = re.compile(r"<!-- section:(?P<name>[\w-]+) -->\n(?P<body>.*?)<!-- /section:(?P=name) -->\n?", re.S)


def md_table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Markdown table lines; cells are str()-ed and `|` inside a cell is escaped."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        if len(row) != len(head):
            raise ValueError(f"row has {len(row)} cells, the header {len(head)}")
        lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return lines


def parse_sections(document: str) -> dict[str, str]:
    """{section name: body} for every marked section of a results file (text outside markers is dropped)."""
    return {m["name"]: m["body"] for m in _SECTION.finditer(document)}


def replace_section(document: str, name: str, body: str, order: Sequence[str] = ()) -> str:
    """The document with section `name` set to `body`; sections are written in `order`, then the rest
    in the order they appeared (a new section goes last)."""
    sections = parse_sections(document)
    sections[name] = body if body.endswith("\n") else body + "\n"
    names = [n for n in order if n in sections] + [n for n in sections if n not in order]
    return "\n".join(f"<!-- section:{n} -->\n{sections[n]}<!-- /section:{n} -->\n" for n in names)


def write_section(path: Path, name: str, body: str, order: Sequence[str] = ()) -> None:
    """Replace (or add) one section of the Markdown file at `path`."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(replace_section(old, name, body, order), encoding="utf-8")


def update_json(path: Path, values: dict) -> dict:
    """Merge `values` into the JSON object stored at `path` (top-level keys replaced); returns the result."""
    data: dict = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            data = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            data = {}
    data.update(values)
    path.write_text(json.dumps(data, indent=1, default=float), encoding="utf-8")
    return data


def merge_rows(path: Path, new: list[dict], key: Callable[[dict], tuple], *, field: str | None = None) -> list[dict]:
    """Merge `new` into the rows stored at `path` and return them all. A stored row with the key of a new one is
    replaced where it stands (tables keep their row order); other new rows go at the end. The file is read again
    at write time under an exclusive lock (`path` with suffix .lock), so benchmarks running side by side keep each
    other's rows. `field`: the rows sit under that key of a JSON object (else the file is a JSON list)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else ({field: []} if field else [])
        fresh = {key(r): r for r in new}
        rows = [fresh.pop(key(r), r) for r in (data[field] if field else data)] + list(fresh.values())
        if field:
            data[field] = rows
        path.write_text(json.dumps(data if field else rows, indent=1))
    return rows
