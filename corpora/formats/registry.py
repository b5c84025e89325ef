"""The format catalog: readers and writers registered by name, readers also by file extension.

Adding a format touches one module: it decorates its reader with `@register_reader("name", [".ext"])` and its
writer (if any) with `@register_writer("name", content_type, extension)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from corpora.formats.base import Record, RecordError

# reader(stream, source, *, split_map=None)
Reader = Callable[..., Iterator[Record | RecordError]]


@dataclass(frozen=True)
class ExportRow:
    """One document to export: its id, text, split, gold paths (names, root first) and meta."""

    id: str
    text: str
    split: str
    paths: list[list[str]]
    meta: dict
    generated: bool = False  # written by an LLM (cold-start examples)


# write(rows, depth, *, generated_column=False): the flag adds the "generated" mark to formats with fixed columns.
Writer = Callable[..., Iterator[str]]


@dataclass(frozen=True)
class WriterSpec:
    name: str
    write: Writer
    content_type: str
    extension: str


READERS: dict[str, Reader] = {}
READER_EXTENSIONS: dict[str, str] = {}
WRITERS: dict[str, WriterSpec] = {}


def register_reader(name: str, extensions: list[str]) -> Callable[[Reader], Reader]:
    def register(func: Reader) -> Reader:
        READERS[name] = func
        for ext in extensions:
            READER_EXTENSIONS[ext.lower()] = name
        return func

    return register


def register_writer(name: str, content_type: str, extension: str) -> Callable[[Writer], Writer]:
    def register(func: Writer) -> Writer:
        WRITERS[name] = WriterSpec(name=name, write=func, content_type=content_type, extension=extension)
        return func

    return register


def reader_name_for(file_name: str) -> str | None:
    """The registered reader for a file name's extension, or None."""
    return READER_EXTENSIONS.get(PurePosixPath(file_name.replace("\\", "/")).suffix.lower())


def supported_extensions() -> list[str]:
    return sorted(READER_EXTENSIONS)


def read_records(
    stream: BinaryIO, file_name: str, *, split_map: dict[str, str] | None = None
) -> Iterator[Record | RecordError]:
    """Records and per-record errors of a file, by its extension. Raises FormatError for unreadable files.

    `split_map` maps further split names (lower case) to train / dev / test."""
    from corpora.formats.base import FormatError

    name = reader_name_for(file_name)
    if name is None:
        allowed = ", ".join(supported_extensions())
        raise FormatError(file_name, f"unsupported file type; upload one of {allowed}")
    return READERS[name](stream, file_name, split_map=split_map)
