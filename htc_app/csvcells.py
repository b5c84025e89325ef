"""CSV cells that survive a spreadsheet and a round trip, shared by every CSV htc writes and reads.

The writer neutralises cells that a spreadsheet would run as a formula (CWE-1236) with a leading `'` (and
doubles a leading `'`), quotes every cell holding a CR, an LF, a quote or the delimiter, and marks the file as
htc's own export with a last header column `htc_export`. A reader removes the added `'` again only in a file
with that mark (`is_own_export`), so an export imports back unchanged while a `'` in anyone else's file is
kept as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EXPORT_MARK = "htc_export"  # last header column of htc's own CSV exports: their `'` prefixes are htc's


def neutralise_cell(value: str) -> str:
    """Prefix with `'` a cell that a spreadsheet would treat as a formula, or that starts with `'` itself (so
    `restore_cell` can tell the added prefix from one that was there)."""
    return "'" + value if value.startswith((*FORMULA_STARTS, "'")) else value


def restore_cell(value: str) -> str:
    """Undo `neutralise_cell` (a `'` followed by a formula start or another `'` loses that first `'`)."""
    return value[1:] if value.startswith("'") and value[1:].startswith((*FORMULA_STARTS, "'")) else value


def is_own_export(header: Sequence[str]) -> bool:
    """True when a header row (as read) ends with htc's export mark: only then are `'` prefixes htc's."""
    return bool(header) and header[-1].strip().lower() == EXPORT_MARK


def csv_line(cells: Iterable[str], delimiter: str = ",") -> str:
    """One CSV record ending in LF; a cell is quoted when it holds a CR, an LF, a quote or the delimiter
    (the csv module leaves a bare CR unquoted when the line ends in LF, which no strict reader accepts)."""
    out = []
    for cell in cells:
        if any(ch in cell for ch in ("\r", "\n", '"', delimiter)):
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    return delimiter.join(out) + "\n"
