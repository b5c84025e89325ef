"""Plain text: one document per line, no labels. Ids are `<file>:<line>`; blank lines are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from corpora.formats.base import Record, RecordError, iter_text_lines
from corpora.formats.registry import register_reader


@register_reader("txt", [".txt"])
def read_txt(stream: BinaryIO, source: str, *, split_map=None) -> Iterator[Record | RecordError]:
    for line_no, line in iter_text_lines(stream, source):
        text = line.rstrip("\r\n")
        if text.strip():
            yield Record(source, line_no, f"{source}:{line_no}", text)
