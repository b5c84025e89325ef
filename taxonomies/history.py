"""The taxonomy history in words: one readable sentence per recorded change (names, never raw ids).

Every name, path and term in a sentence is bidi-isolated (htc_app.bidi): a name with an RTL override cannot
reorder the words around it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from htc_app.bidi import isolate

ID_KEYS = ("node", "parent", "from_parent", "to_parent", "source", "target", "reassign_to")


def _quote(name: Any) -> str:
    return f"“{isolate(name)}”"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def _listing(values: Iterable[Any], limit: int = 10) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "") if values else "none"


def change_summaries(changes: list, names: dict[int, str]) -> list[str]:
    """One sentence per change; `names` maps node ids (current or not) to a path or name to show."""
    return [change_summary(change.action, change.details or {}, names) for change in changes]


def node_ids_in(changes: Iterable) -> set[int]:
    """Every node id the changes' details mention (to look their names up in one query)."""
    out: set[int] = set()
    for change in changes:
        details = change.details or {}
        for key in ID_KEYS:
            if isinstance(details.get(key), int):
                out.add(details[key])
        for key in ("children",):
            out.update(v for v in details.get(key) or [] if isinstance(v, int))
        out.update(int(k) for k in (details.get("sample") or {}) if str(k).isdigit())
    return out


def change_summary(action: str, d: dict, names: dict[int, str]) -> str:
    """A readable summary of one change's details (see taxonomies.services for what each action records)."""

    def label(key: str, fallback_key: str | None = None, *, top: str = "the top level") -> str:
        value = d.get(key)
        if value is None:
            return d.get(fallback_key) and _quote(d[fallback_key]) or top
        return _quote(names.get(value) or (d.get(fallback_key) if fallback_key else None) or "a deleted label")

    if action == "create":
        parent = d.get("parent")
        where = f"under {label('parent')}" if parent is not None else "at the top level"
        return f"Added {_quote(d.get('name', ''))} {where}."
    if action == "rename":
        return f"Renamed {_quote(d.get('from', ''))} to {_quote(d.get('to', ''))}."
    if action == "move":
        return (
            f"Moved {_quote(d.get('name') or names.get(d.get('node')) or 'a label')} from "
            f"{label('from_parent')} to {label('to_parent')}"
            + (f" (now {_quote(d['path'])})." if d.get("path") else ".")
        )
    if action == "merge":
        text = f"Merged {_quote(d.get('source_path', ''))} into {_quote(d.get('target_path', ''))}"
        moved = [
            _plural(int(d[key]), word)
            for key, word in (("documents_moved", "document"), ("children_moved", "sub-label"))
            if d.get(key)
        ]
        return text + (f"; moved {' and '.join(moved)}." if moved else ".")
    if action == "delete":
        text = f"Deleted {_quote(d.get('path') or d.get('name', ''))}"
        if int(d.get("deleted") or 0) > 1:
            text += f" and its {_plural(int(d['deleted']) - 1, 'sub-label')}"
        if d.get("reassign_path"):
            text += f"; {_plural(int(d.get('documents_moved') or 0), 'document')} moved to {_quote(d['reassign_path'])}"
        return text + "."
    if action == "split":
        children = d.get("names") or [names.get(c, "?") for c in d.get("children") or []]
        text = f"Split {_quote(d.get('path', ''))} into {_listing(_quote(c) for c in children)}"
        if d.get("documents_to_review"):
            text += f"; {_plural(int(d['documents_to_review']), 'document')} to review (which child?)"
        return text + "."
    if action == "import":
        counts = ", ".join(
            f"{int(d.get(key) or 0):,} {key}" for key in ("created", "reused", "updated", "deleted") if key in d
        )
        return f"Imported {_quote(d.get('file', 'a file'))} ({d.get('format', '?')}, {d.get('mode', '?')}): {counts}."
    if action == "edit" and "enrich" in d:
        sample = d.get("sample") or {}
        shown = [names.get(int(k), "a deleted label") for k in sample if str(k).isdigit()]
        text = f"Enrichment ({d['enrich']}) updated the terms of {_plural(int(d.get('nodes') or 0), 'label')}"
        if d.get("kept_edited"):
            text += f", keeping the terms people edited on {_plural(int(d['kept_edited']), 'label')}"
        return text + (f": {_listing(isolate(name) for name in shown)}." if shown else ".")
    if action == "edit":
        who = _quote(d.get("name") or names.get(d.get("node")) or "a label")
        description = d.get("description") or ""
        terms = d.get("terms") or []
        parts = [f"description {_quote(description)}" if description else "no description"]
        parts.append(f"terms {_listing(isolate(term) for term in terms)}" if terms else "no terms")
        return f"Edited {who}: {'; '.join(parts)}."
    return _generic(d, names)


def _generic(d: dict, names: dict[int, str]) -> str:
    """Any other change: its details as "key: value", with ids named and empty values spelled out."""
    parts = []
    for key, value in d.items():
        if key in ID_KEYS and isinstance(value, int):
            value = isolate(names.get(value, "a deleted label"))
        elif value is None:
            value = "none"
        elif isinstance(value, (list, tuple)):
            value = _listing(isolate(v) for v in value) if value else "none"
        elif isinstance(value, dict):
            value = _listing(f"{isolate(k)}: {isolate(v)}" for k, v in value.items()) if value else "none"
        elif isinstance(value, str):
            value = isolate(value)
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts) + "." if parts else "No details recorded."
