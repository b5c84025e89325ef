"""CSV and TSV: a header row with a `text` column; optional `id`, `split`, and labels either as `path`
("A > B > C", several joined by " | ") or as level columns `level1, level2, ...`. Other columns go to `meta`.

Cells are written and read back by htc_app.csvcells (formula neutralising, quoting, the `htc_export` mark that
alone lets the reader remove the added `'` again), the same rules as the taxonomy's CSV of paths.
"""

from __future__ import annotations

import bisect
import csv
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from django.conf import settings

from corpora.formats.base import (
    PATH_SEPARATOR,
    PATHS_SEPARATOR,
    FormatError,
    PathChecker,
    Record,
    RecordError,
    dedupe_paths,
    iter_text_lines,
    normalise_split,
    parse_path_text,
    unknown_split_message,
)
from corpora.formats.registry import ExportRow, register_reader, register_writer
from htc_app.csvcells import EXPORT_MARK, csv_line, is_own_export, neutralise_cell, restore_cell

LEVEL_COLUMN = re.compile(r"level(\d+)")


class _LineTracker:
    """Feeds decoded lines to csv.reader and remembers the lines of the record being read (for error locations)."""

    def __init__(self, lines: Iterator[tuple[int, str]]):
        self._lines = lines
        self.record: list[tuple[int, str]] = []
        self.last_line = 0

    def __iter__(self) -> _LineTracker:
        return self

    def __next__(self) -> str:
        line_no, text = next(self._lines)
        self.record.append((line_no, text))
        self.last_line = line_no
        return text

    def start_record(self) -> None:
        self.record = []

    @property
    def record_line(self) -> int:
        return self.record[0][0] if self.record else self.last_line + 1


def _diagnose_quotes(lines: list[tuple[int, str]], delimiter: str) -> tuple[int, int, str] | None:
    """Find the line and column of a quoting problem in a record's raw lines: (line, column, message)."""
    text = "".join(t for _, t in lines)
    offsets, numbers, pos = [], [], 0
    for line_no, line in lines:
        offsets.append(pos)
        numbers.append(line_no)
        pos += len(line)

    def where(i: int) -> tuple[int, int]:
        k = bisect.bisect_right(offsets, i) - 1
        return numbers[k], i - offsets[k] + 1

    i, n, field_start, open_at = 0, len(text), True, None
    while i < n:
        ch = text[i]
        if open_at is not None:
            if ch == '"' and i + 1 < n and text[i + 1] == '"':
                i += 2
                continue
            if ch == '"':
                open_at = None
                i += 1
                if i < n and text[i] not in (delimiter, "\r", "\n"):
                    line_no, col = where(i)
                    return line_no, col, f"unexpected character after a closing quote (expected {delimiter!r})"
                continue
        elif ch == '"' and field_start:
            open_at = i
        field_start = open_at is None and ch in (delimiter, "\r", "\n")
        i += 1
    if open_at is not None:
        line_no, col = where(open_at)
        return line_no, col, "this quoted field is never closed (unbalanced quote)"
    return None


def _read_delimited(stream: BinaryIO, source: str, delimiter: str, split_map=None) -> Iterator[Record | RecordError]:
    # The csv module's field limit is process-wide; raise it to the document limit (never lower it).
    csv.field_size_limit(max(csv.field_size_limit(), settings.HTC_MAX_DOCUMENT_CHARS + 1))
    tracker = _LineTracker(iter_text_lines(stream, source))
    reader = csv.reader(tracker, delimiter=delimiter, strict=True)

    def next_row() -> list[str] | None:
        tracker.start_record()
        try:
            return next(reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                raise FormatError(
                    source,
                    f"a field is longer than {csv.field_size_limit() - 1:,} characters "
                    "(the document size limit, HTC_MAX_DOCUMENT_CHARS)",
                    line_no=tracker.record_line,
                ) from None
            found = _diagnose_quotes(tracker.record, delimiter)
            if found:
                raise FormatError(source, found[2], line_no=found[0], column=found[1]) from None
            raise FormatError(source, f"malformed CSV ({exc})", line_no=tracker.record_line) from None

    header_row = next_row()
    while header_row is not None and not any(c.strip() for c in header_row):
        header_row = next_row()
    if header_row is None:
        return
    header = [c.strip().lower() for c in header_row]
    header = ["path" if h == "paths" else h for h in header]  # "paths" is a common spelling of the label column
    ours = is_own_export(header)  # htc's own export: undo its `'` prefixes
    header_line = tracker.record_line
    seen: set[str] = set()
    for col, name in enumerate(header, start=1):
        if name in seen:
            raise FormatError(source, f"the column {name!r} appears twice in the header", header_line, col)
        seen.add(name)
    if "text" not in header:
        found = ", ".join(repr(h) for h in header)
        raise FormatError(source, f"no 'text' column in the header (found {found})", line_no=header_line)
    col_of = {name: i for i, name in enumerate(header)}
    levels = sorted((int(m.group(1)), i) for i, h in enumerate(header) if (m := LEVEL_COLUMN.fullmatch(h)))
    if [n for n, _ in levels] != list(range(1, len(levels) + 1)):
        raise FormatError(source, "level columns must be numbered level1, level2, ... without gaps", header_line)
    known = {"id", "text", "split", "path", EXPORT_MARK} | {header[i] for _, i in levels}
    extra = [(name, i) for i, name in enumerate(header) if name not in known and name]

    parse = _PathCells()
    while (row := next_row()) is not None:
        line_no = tracker.record_line
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            column = len(header) + 1 if len(row) > len(header) else len(row)
            message = f"{len(row)} fields, but the header has {len(header)}"
            yield RecordError(source, line_no, message, column=column)
            continue
        yield _record_from_row(source, line_no, row, col_of, levels, extra, split_map, parse, restore=ours)


class _PathCells:
    """A path cell parsed and its names checked once per distinct value (a per-file cache, bounded)."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.cache: dict[str, tuple[list[tuple[str, ...]], str | None]] = {}
        self.check = PathChecker()

    def __call__(self, value: str) -> tuple[list[tuple[str, ...]], str | None]:
        """(paths, problem): the problem is a message or None."""
        found = self.cache.get(value)
        if found is None:
            if len(self.cache) >= self.LIMIT:
                self.cache.clear()
            try:
                paths = parse_path_text(value)
                problem = next((p for p in map(self.check, paths) if p), None)
            except ValueError as exc:
                paths, problem = [], str(exc)
            found = self.cache[value] = (paths, problem)
        return found


def _record_from_row(
    source, line_no, row, col_of, levels, extra, split_map, parse, *, restore: bool
) -> Record | RecordError:
    # Only htc's own exports get their `'` prefixes removed; only a leading quote can need undoing.
    cells = [restore_cell(c) if c[:1] == "'" else c for c in row] if restore else row
    text = cells[col_of["text"]]
    if not text.strip():
        return RecordError(source, line_no, "empty text", field="text")
    doc_id = None
    if "id" in col_of:
        doc_id = cells[col_of["id"]].strip()
        if not doc_id:
            return RecordError(source, line_no, "empty id", field="id")
    split = ""
    if "split" in col_of:
        split = normalise_split(cells[col_of["split"]], split_map)
        if split is None:
            return RecordError(source, line_no, unknown_split_message(cells[col_of["split"]]), field="split")
    paths: list[tuple[str, ...]] = []
    if "path" in col_of:
        paths, problem = parse(cells[col_of["path"]])
        if problem:
            return RecordError(source, line_no, problem, field="path")
    level_names = [cells[i].strip() for _, i in levels]
    while level_names and not level_names[-1]:
        level_names.pop()
    if level_names:
        if not all(level_names):
            gap = level_names.index("") + 1
            return RecordError(source, line_no, f"level{gap} is empty but a deeper level is set", field=f"level{gap}")
        if paths and paths != [tuple(level_names)]:
            return RecordError(source, line_no, "the path and level columns disagree", field="path")
        paths = [tuple(level_names)]
        problem = parse.check(paths[0])
        if problem:
            return RecordError(source, line_no, problem, field="path")
    meta = {name: cells[i] for name, i in extra if cells[i] != ""}
    return Record(source, line_no, doc_id, text, dedupe_paths(paths), split, meta)


@register_reader("csv", [".csv"])
def read_csv(stream: BinaryIO, source: str, *, split_map=None) -> Iterator[Record | RecordError]:
    return _read_delimited(stream, source, ",", split_map)


@register_reader("tsv", [".tsv", ".tab"])
def read_tsv(stream: BinaryIO, source: str, *, split_map=None) -> Iterator[Record | RecordError]:
    return _read_delimited(stream, source, "\t", split_map)


@register_writer("csv", "text/csv; charset=utf-8", "csv")
def write_csv(rows: Iterable[ExportRow], depth: int, *, generated_column: bool = False) -> Iterator[str]:
    """CSV with columns id, text, split, path (all paths) and level1..level<depth> (when there is one path),
    then `generated` ("yes" for LLM-written documents) when `generated_column`, then the `htc_export` mark."""
    extra = ["generated"] if generated_column else []
    chunk = [
        csv_line(["id", "text", "split", "path"] + [f"level{i}" for i in range(1, depth + 1)] + extra + [EXPORT_MARK])
    ]
    for n, row in enumerate(rows, start=1):
        path = PATHS_SEPARATOR.join(PATH_SEPARATOR.join(p) for p in row.paths)
        levels = list(row.paths[0]) if len(row.paths) == 1 else []
        levels += [""] * (depth - len(levels))
        mark = ["yes" if row.generated else ""] if generated_column else []
        cells = [row.id, row.text, row.split, path, *levels[:depth], *mark]
        chunk.append(csv_line([neutralise_cell(c) for c in cells] + [""]))
        if n % 200 == 0:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
