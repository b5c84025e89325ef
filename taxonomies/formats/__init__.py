"""Taxonomy file formats, registered by name: one module per format, each with a reader and a writer.

Adding a format means adding one module that calls `register` (and importing it at the bottom here).
"""

from __future__ import annotations

from pathlib import PurePath

from taxonomies.formats.base import ExportNode, ParsedNode, Problem, TaxonomyFormat

_FORMATS: dict[str, TaxonomyFormat] = {}


def register(fmt: TaxonomyFormat) -> TaxonomyFormat:
    """Add a format to the registry under its name; returns it (usable as a decorator on instances)."""
    _FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> TaxonomyFormat:
    """The format registered under `name`; ValueError for an unknown one."""
    try:
        return _FORMATS[name]
    except KeyError as exc:
        raise ValueError(f"Unknown taxonomy format {name!r}; use one of {', '.join(sorted(_FORMATS))}.") from exc


def format_for_filename(file_name: str) -> TaxonomyFormat | None:
    """The format a file name's extension selects (.json, .csv, .txt), or None."""
    suffix = PurePath(file_name or "").suffix.lower()
    for fmt in _FORMATS.values():
        if suffix in fmt.extensions:
            return fmt
    return None


def available_formats() -> list[TaxonomyFormat]:
    """All registered formats, in registration order."""
    return list(_FORMATS.values())


def extensions() -> list[str]:
    """Every accepted file extension (with the dot)."""
    return [ext for fmt in _FORMATS.values() for ext in fmt.extensions]


__all__ = [
    "ExportNode",
    "ParsedNode",
    "Problem",
    "TaxonomyFormat",
    "available_formats",
    "extensions",
    "format_for_filename",
    "get_format",
    "register",
]

# Registration happens on import of each format module.
from taxonomies.formats import csv_paths, indented_text, json_tree  # noqa: E402, F401
