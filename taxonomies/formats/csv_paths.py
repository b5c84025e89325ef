"""CSV of paths: one path per row, either level columns (`level1,level2,...`) or one `path` column
(`A > B > C`). The header is optional; an optional `description` column describes the row's label.

Rows name a label and, implicitly, its ancestors. Cells follow htc_app.csvcells, as the corpus CSV does: the
export neutralises cells a spreadsheet would run as a formula with a `'` (CWE-1236) and ends its header with the
`htc_export` mark; the import removes those `'` only in a file with that mark, so an export round-trips and a
`'` in anyone else's file is kept as written.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from htc_app.csvcells import EXPORT_MARK, csv_line, is_own_export, neutralise_cell, restore_cell
from taxonomies.formats import register
from taxonomies.formats.base import ExportNode, ParsedNode, Problem

PATH_SEPARATOR = ">"
_LEVEL_HEADER = re.compile(r"^(level|lvl|l)[\s_-]*\d+$")


def _is_header(row: list[str]) -> bool:
    cells = [c.strip().lower() for c in row if c.strip()]
    return bool(cells) and all(c in {"path", "description", EXPORT_MARK} or _LEVEL_HEADER.match(c) for c in cells)


class _Dialect(csv.excel):
    """Standard CSV quoting (double quotes, doubled inside) with the delimiter the file uses."""


def _dialect(text: str) -> type[csv.Dialect]:
    """Only the delimiter is sniffed: the Sniffer would take a leading `'` (a name like `'=x`) for the quote
    character, and cells are quoted with `"` in every CSV htc reads."""
    try:
        delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    return type("SniffedDialect", (_Dialect,), {"delimiter": delimiter})


class CsvPathsFormat:
    name = "csv"
    label = "CSV of paths"
    extensions = (".csv",)
    content_type = "text/csv; charset=utf-8"

    def read(self, text: str) -> Iterator[ParsedNode | Problem]:
        reader = csv.reader(io.StringIO(text, newline=""), _dialect(text))
        header: list[str] | None = None
        path_column: int | None = None
        description_column: int | None = None
        level_columns: list[int] | None = None
        restore = False  # htc's own export (its header ends with the mark): undo its `'` prefixes
        next_line = 1
        try:
            for row in reader:
                line, next_line = next_line, reader.line_num + 1  # the row's first physical line
                if not any(cell.strip() for cell in row):
                    continue
                if header is None and level_columns is None and path_column is None:
                    if _is_header(row):
                        header = [c.strip().lower() for c in row]
                        restore = is_own_export(header)
                        path_column = header.index("path") if "path" in header else None
                        description_column = header.index("description") if "description" in header else None
                        level_columns = [i for i, c in enumerate(header) if _LEVEL_HEADER.match(c)]
                        if path_column is None and not level_columns:
                            yield Problem(line, "the header names no level or path column")
                            return
                        if path_column is not None and level_columns:
                            yield Problem(line, "use either level columns or one path column, not both")
                            return
                        continue
                    level_columns = []  # no header: decide per row
                if restore:
                    row = [restore_cell(cell.strip()) for cell in row]
                yield from self._read_row(row, line, header, path_column, description_column, level_columns)
        except csv.Error as exc:
            yield Problem(next_line, f"not valid CSV: {exc}")

    def _read_row(self, row, line, header, path_column, description_column, level_columns):
        description = None
        if description_column is not None and description_column < len(row):
            description = row[description_column].strip() or None
        if path_column is not None or (header is None and len(row) == 1):
            cell = row[path_column or 0] if (path_column or 0) < len(row) else ""
            names = [part.strip() for part in cell.split(PATH_SEPARATOR)]
            for position, name in enumerate(names, start=1):
                if not name:
                    yield Problem(line, f"empty label name at level {position} of the path")
                    return
            yield ParsedNode(path=tuple(names), line=line, description=description)
            return
        columns = level_columns or list(range(len(row)))
        cells = [row[i].strip() if i < len(row) else "" for i in columns]
        while cells and not cells[-1]:
            cells.pop()
        for position, cell in enumerate(cells):
            if not cell:
                column = header[columns[position]] if header else f"{columns[position] + 1}"
                yield Problem(line, f"empty label name in column {column}")
                return
        yield ParsedNode(path=tuple(cells), line=line, description=description)

    def write(self, nodes: Sequence[ExportNode]) -> str:
        depth = max((len(n.path) for n in nodes), default=1)
        with_description = any(n.description for n in nodes)
        header = [f"level{i}" for i in range(1, depth + 1)] + (["description"] if with_description else [])
        lines = [csv_line([*header, EXPORT_MARK])]
        for node in nodes:
            cells = list(node.path) + [""] * (depth - len(node.path))
            if with_description:
                cells.append(node.description)
            lines.append(csv_line([*(neutralise_cell(c) for c in cells), ""]))
        return "".join(lines)


register(CsvPathsFormat())
