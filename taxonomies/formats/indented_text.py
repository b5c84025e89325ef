"""Indented text: one label per line, children indented one step (2 or 4 spaces, or a tab) deeper.

The first indented line fixes the indentation step; every other line must use whole steps of the
same character and go at most one step deeper than the line before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from taxonomies.formats import register
from taxonomies.formats.base import ExportNode, ParsedNode, Problem

ALLOWED_STEPS = ("  ", "    ", "\t")


def _describe(indent: str) -> str:
    if not indent:
        return "no indentation"
    if set(indent) == {"\t"}:
        return f"{len(indent)} tab(s)"
    if set(indent) == {" "}:
        return f"{len(indent)} space(s)"
    return "a mix of tabs and spaces"


class IndentedTextFormat:
    name = "txt"
    label = "Indented text"
    extensions = (".txt",)
    content_type = "text/plain; charset=utf-8"

    def read(self, text: str) -> Iterator[ParsedNode | Problem]:
        unit: str | None = None
        path: list[str] = []  # the current root-to-node names
        for number, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            stripped = raw.lstrip(" \t")
            indent = raw[: len(raw) - len(stripped)]
            name = stripped.strip()
            if indent and unit is None:
                if indent not in ALLOWED_STEPS:
                    yield Problem(
                        number, f"inconsistent indentation: {_describe(indent)}; indent by 2 or 4 spaces or one tab"
                    )
                    continue
                unit = indent
            if indent:
                level, rest = divmod(len(indent), len(unit)) if indent[0] == unit[0] else (0, 1)
                if rest or indent != unit * level:
                    yield Problem(
                        number,
                        f"inconsistent indentation: {_describe(indent)}, expected whole steps of {_describe(unit)}",
                    )
                    continue
            else:
                level = 0
            if level > len(path):
                if not path:
                    yield Problem(number, "inconsistent indentation: the first label is indented")
                    continue
                yield Problem(
                    number, f"inconsistent indentation: {level - len(path) + 1} steps deeper than the line above"
                )
                continue
            del path[level:]
            path.append(name)
            yield ParsedNode(path=tuple(path), line=number)

    def write(self, nodes: Sequence[ExportNode]) -> str:
        return "".join("  " * (len(node.path) - 1) + node.path[-1] + "\n" for node in nodes)


register(IndentedTextFormat())
