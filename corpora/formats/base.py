"""What every corpus reader shares: the record type, error types, line decoding and field parsing.

A reader turns a binary stream into `Record`s (one per document) and `RecordError`s (a problem with one
document; reading goes on). A problem that makes the rest of a file unreadable (bad encoding, a broken quote,
an unsafe zip entry) raises `FormatError`. Readers never load a whole file: they decode one line at a time.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings

PATH_SEPARATOR = " > "
PATHS_SEPARATOR = " | "
SPLIT_ALIASES = {
    "": "",
    "train": "train",
    "training": "train",
    "dev": "dev",
    "validation": "dev",
    "valid": "dev",
    "val": "dev",
    "test": "test",
    "testing": "test",
}


@dataclass(frozen=True)
class Record:
    """One document as read from a file. `paths` holds root-to-node label names; `split` is "" when not given."""

    source: str
    line_no: int
    id: str | None
    text: str
    paths: tuple[tuple[str, ...], ...] = ()
    split: str = ""
    meta: dict = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class RecordError:
    """A problem with one document (the reader goes on with the next)."""

    source: str
    line_no: int | None
    message: str
    field: str = ""
    column: int | None = None

    def __str__(self) -> str:
        return location(self.source, self.line_no, field=self.field, column=self.column) + f": {self.message}"


class FormatError(Exception):
    """A problem that stops reading a file (encoding, broken CSV quoting, an unsafe zip entry)."""

    def __init__(self, source: str, message: str, line_no: int | None = None, column: int | None = None):
        self.source = source
        self.line_no = line_no
        self.column = column
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return location(self.source, self.line_no, column=self.column) + f": {self.message}"


def location(source: str, line_no: int | None, *, field: str = "", column: int | None = None) -> str:
    """'corpus.csv, line 12, column 4, field path' (the parts that are known)."""
    parts = [source]
    if line_no is not None:
        parts.append(f"line {line_no}")
    if column is not None:
        parts.append(f"column {column}")
    if field:
        parts.append(f"field {field}")
    return ", ".join(parts)


def max_line_bytes() -> int:
    """Longest physical line a reader accepts: a maximal document in 4-byte UTF-8 plus room for other fields."""
    return settings.HTC_MAX_DOCUMENT_CHARS * 4 + 1024 * 1024


def iter_text_lines(stream: BinaryIO, source: str) -> Iterator[tuple[int, str]]:
    """Yield (line number, line with its line ending) decoded as UTF-8 (a BOM is dropped), one line in memory.

    Raises FormatError naming the line and the absolute byte offset of the first byte that is not UTF-8, for
    UTF-16/UTF-32 (with or without a byte order mark: NUL bytes give them away), and for over-long lines.
    """
    limit = max_line_bytes()
    offset = 0
    line_no = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        line_no += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            raise FormatError(source, f"the line is longer than {limit:,} bytes", line_no=line_no)
        start = 0
        if line_no == 1:
            if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise FormatError(source, "the file is UTF-16 or UTF-32 (byte order mark); save it as UTF-8", line_no=1)
            if raw.startswith(b"\xef\xbb\xbf"):
                start = 3
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise FormatError(
                source,
                f"NUL byte at byte offset {offset + nul}: the file looks like UTF-16 or binary data; save it as UTF-8",
                line_no=line_no,
            )
        try:
            text = raw[start:].decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = raw[start + exc.start]
            raise FormatError(
                source,
                f"byte offset {offset + start + exc.start}: byte 0x{bad:02x} is not valid UTF-8 "
                "(is the file Windows-1252 or Latin-1?); save it as UTF-8",
                line_no=line_no,
            ) from None
        offset += len(raw)
        yield line_no, text


def normalise_split(value: object, split_map: dict[str, str] | None = None) -> str | None:
    """'train' / 'dev' / 'test' / '' for a split name (validation -> dev; then the names `split_map` maps, in
    lower case, e.g. {"train_subset": "train"}); None when unknown."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    found = SPLIT_ALIASES.get(key)
    if found is None and split_map:
        found = split_map.get(key)
    return found


def unknown_split_message(value: object) -> str:
    return f"unknown split {value!r} (use train, dev or test, or map the name to one of them)"


class PathChecker:
    """`check_names` once per distinct path (a per-file cache, bounded)."""

    LIMIT = 50_000

    def __init__(self) -> None:
        self.cache: dict[tuple[str, ...], str | None] = {}

    def __call__(self, names: tuple[str, ...]) -> str | None:
        try:
            return self.cache[names]
        except KeyError:
            pass
        if len(self.cache) >= self.LIMIT:
            self.cache.clear()
        problem = self.cache[names] = check_names(names)
        return problem


def parse_path_text(value: str) -> list[tuple[str, ...]]:
    """'A > B | C > D' -> [('A', 'B'), ('C', 'D')]; blank gives []. Raises ValueError on an empty label."""
    value = value.strip()
    if not value:
        return []
    paths = []
    for chunk in value.split(PATHS_SEPARATOR):
        names = tuple(name.strip() for name in chunk.split(PATH_SEPARATOR))
        if any(not name for name in names):
            raise ValueError(f"empty label name in path {chunk.strip()!r}")
        paths.append(names)
    return paths


def check_names(names: tuple[str, ...]) -> str | None:
    """A problem with a path's label names, or None."""
    if not names:
        return "empty path"
    if any(not n for n in names):
        return "empty label name in path " + repr(PATH_SEPARATOR.join(names))
    if any(len(n) > 255 for n in names):
        return "a label name is longer than 255 characters"
    if any(unicodedata.category(ch) == "Cc" for n in names for ch in n):
        return "a label name contains a line break or another control character"
    if len(names) > settings.HTC_MAX_TAXONOMY_DEPTH:
        return f"the path has {len(names)} levels; the limit is {settings.HTC_MAX_TAXONOMY_DEPTH}"
    return None


def dedupe_paths(paths: list[tuple[str, ...]]) -> tuple[tuple[str, ...], ...]:
    """The paths in first-seen order, without repeats."""
    return tuple(dict.fromkeys(paths))
