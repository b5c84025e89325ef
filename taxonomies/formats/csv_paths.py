"""CSV of paths: one path per row, either level columns (`level1,level2,...`) or one `path` column
(`A > B > C`). The header is optional; an optional `description` column describes the row's label.

Rows name a label and, implicitly, its ancestors. Cells that a spreadsheet would run as a formula
are quoted with `'` on export (CWE-1236) and unquoted on import, so files round-trip.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence

from taxonomies.formats import register
from taxonomies.formats.base import ExportNode, ParsedNode, Problem

PATH_SEPARATOR = ">"
_LEVEL_HEADER = re.compile(r"^(level|lvl|l)[\s_-]*\d+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _is_header(row: list[str]) -> bool:
    cells = [c.strip().lower() for c in row if c.strip()]
    return bool(cells) and all(c in {"path", "description"} or _LEVEL_HEADER.match(c) for c in cells)


def _unquote_formula(cell: str) -> str:
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in _FORMULA_START else cell


def _quote_formula(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def _dialect(text: str) -> type[csv.Dialect] | csv.Dialect:
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        return csv.excel


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
        next_line = 1
        try:
            for row in reader:
                line, next_line = next_line, reader.line_num + 1  # the row's first physical line
                if not any(cell.strip() for cell in row):
                    continue
                if header is None and level_columns is None and path_column is None:
                    if _is_header(row):
                        header = [c.strip().lower() for c in row]
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
                yield from self._read_row(row, line, header, path_column, description_column, level_columns)
        except csv.Error as exc:
            yield Problem(next_line, f"not valid CSV: {exc}")

    def _read_row(self, row, line, header, path_column, description_column, level_columns):
        description = None
        if description_column is not None and description_column < len(row):
            description = row[description_column].strip() or None
        if path_column is not None or (header is None and len(row) == 1):
            cell = row[path_column or 0] if (path_column or 0) < len(row) else ""
            names = [_unquote_formula(part.strip()) for part in cell.split(PATH_SEPARATOR)]
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
        yield ParsedNode(path=tuple(_unquote_formula(c) for c in cells), line=line, description=description)

    def write(self, nodes: Sequence[ExportNode]) -> str:
        depth = max((len(n.path) for n in nodes), default=1)
        with_description = any(n.description for n in nodes)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([f"level{i}" for i in range(1, depth + 1)] + (["description"] if with_description else []))
        for node in nodes:
            cells = [_quote_formula(name) for name in node.path] + [""] * (depth - len(node.path))
            if with_description:
                cells.append(_quote_formula(node.description))
            writer.writerow(cells)
        return out.getvalue()


register(CsvPathsFormat())
