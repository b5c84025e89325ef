"""JSON tree: `[{"name": "CS", "description": "...", "terms": [...], "children": [...]}, ...]`.

Line numbers come from a decoder that remembers where each object starts; the tree is walked
with an explicit stack, so depth is limited by the file's nesting check, not by recursion.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
from bisect import bisect_right
from collections.abc import Iterator, Sequence

from htc_app.textcheck import unstorable_text
from taxonomies.formats import register
from taxonomies.formats.base import ExportNode, ParsedNode, Problem, line_starts

KNOWN_KEYS = {"name", "children", "description", "terms"}


class _Located(dict):
    """A JSON object that knows the offset of its opening brace."""

    offset: int = 0


class _DuplicateKey(ValueError):
    """One object names a key twice: which value was meant cannot be known."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(k for k in keys if keys.count(k) > 1)
        raise _DuplicateKey(f"the key {twice!r} appears twice in one label object")
    return dict(pairs)


class _LocatingDecoder(json.JSONDecoder):
    def __init__(self) -> None:
        super().__init__(object_pairs_hook=_no_duplicate_keys)

        def parse_object(s_and_end, *args):
            start = s_and_end[1] - 1
            obj, end = json.decoder.JSONObject(s_and_end, *args)
            located = _Located(obj)
            located.offset = start
            return located, end

        self.parse_object = parse_object
        # The pure-Python scanner calls self.parse_object; the C scanner would bypass it.
        self.scan_once = json.scanner.py_make_scanner(self)


class JsonTreeFormat:
    name = "json"
    label = "JSON tree"
    extensions = (".json",)
    content_type = "application/json"

    def read(self, text: str) -> Iterator[ParsedNode | Problem]:
        try:
            data = _LocatingDecoder().decode(text)
        except json.JSONDecodeError as exc:
            yield Problem(exc.lineno, f"not valid JSON: {exc.msg} (column {exc.colno})")
            return
        except RecursionError:
            yield Problem(None, "the JSON is nested too deeply")
            return
        except _DuplicateKey as exc:
            yield Problem(None, str(exc))
            return
        problem = unstorable_text(data)
        if problem:
            yield Problem(None, f"the file contains {problem}")
            return
        if isinstance(data, dict) and "children" in data and "name" not in data:
            data = data["children"]  # also accept {"children": [...]} as the root
        if not isinstance(data, list):
            yield Problem(1, 'expected a list of labels: [{"name": ..., "children": [...]}]')
            return
        starts = line_starts(text)

        def line_of(obj) -> int | None:
            return bisect_right(starts, obj.offset) if isinstance(obj, _Located) else None

        # (item, parent path, line of the enclosing object) in file order, without recursion.
        stack = [(item, (), 1) for item in reversed(data)]
        while stack:
            item, parent, outer_line = stack.pop()
            if not isinstance(item, dict):
                yield Problem(outer_line, f"expected a label object, found {type(item).__name__}")
                continue
            line = line_of(item) or outer_line
            name = item.get("name")
            if not isinstance(name, str):
                yield Problem(line, 'a label needs a "name" string')
                continue
            description = item.get("description")
            if description is not None and not isinstance(description, str):
                yield Problem(line, '"description" must be a string')
                description = None
            terms = item.get("terms")
            if terms is not None and not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
                yield Problem(line, '"terms" must be a list of strings')
                terms = None
            unknown = sorted(set(item) - KNOWN_KEYS)
            if unknown:
                yield Problem(line, f"unknown key(s) {', '.join(map(repr, unknown))}")
            path = (*parent, name.strip())
            yield ParsedNode(path=path, line=line, description=description, terms=tuple(terms) if terms else None)
            children = item.get("children", [])
            if children is None:
                children = []
            if not isinstance(children, list):
                yield Problem(line, '"children" must be a list')
                continue
            stack.extend((child, path, line) for child in reversed(children))

    def write(self, nodes: Sequence[ExportNode]) -> str:
        roots: list[dict] = []
        by_path: dict[tuple[str, ...], dict] = {}
        for node in nodes:  # parents come first, so each parent is already in by_path
            entry: dict = {"name": node.path[-1]}
            if node.description:
                entry["description"] = node.description
            if node.terms:
                entry["terms"] = list(node.terms)
            entry["children"] = []
            by_path[node.path] = entry
            siblings = by_path[node.path[:-1]]["children"] if len(node.path) > 1 else roots
            siblings.append(entry)
        return json.dumps(roots, ensure_ascii=False, indent=2) + "\n"


register(JsonTreeFormat())
