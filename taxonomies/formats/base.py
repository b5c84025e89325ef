"""What every taxonomy format shares: the items a reader yields and the rows a writer receives.

Pure Python: readers and writers know nothing of Django. A reader turns text into `ParsedNode`s
(a root-to-node path of names and the line it came from) and `Problem`s; the caller validates the
whole result (duplicates, limits) and writes it in one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ParsedNode:
    """One label the file names explicitly, with its whole path from the top level."""

    path: tuple[str, ...]
    line: int
    description: str | None = None
    terms: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Problem:
    """Something wrong in the file; `line` is 1-based, or None for the file as a whole."""

    line: int | None
    message: str


@dataclass(frozen=True)
class ExportNode:
    """One label handed to a writer, in display order (parents before children)."""

    path: tuple[str, ...]
    description: str = ""
    terms: tuple[str, ...] = ()


class TaxonomyFormat(Protocol):
    name: str
    label: str
    extensions: tuple[str, ...]
    content_type: str

    def read(self, text: str) -> Iterator[ParsedNode | Problem]:
        """Yield the labels of `text` and the problems found, in file order."""
        ...

    def write(self, nodes: Sequence[ExportNode]) -> str:
        """The taxonomy as text in this format."""
        ...


def line_starts(text: str) -> list[int]:
    """Offsets where each line starts, for turning a character offset into a line number."""
    starts = [0]
    find = text.find
    pos = find("\n")
    while pos != -1:
        starts.append(pos + 1)
        pos = find("\n", pos + 1)
    return starts
