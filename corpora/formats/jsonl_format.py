"""JSON Lines: one object a line, `{"id", "text", "path": [...]}` or `"paths": [[...], ...]`, optional `split`
and `meta` (an object). Other keys go to `meta`. Blank lines are skipped."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from corpora.formats.base import (
    PATH_SEPARATOR,
    PathChecker,
    Record,
    RecordError,
    dedupe_paths,
    iter_text_lines,
    normalise_split,
    unknown_split_message,
)
from corpora.formats.registry import ExportRow, register_reader, register_writer
from htc_app.textcheck import unstorable_text

KNOWN_KEYS = {"id", "text", "path", "paths", "split", "meta"}


class _Unstorable(ValueError):
    """A JSON value the database cannot store faithfully (or that means two things)."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise _Unstorable(f"the key {twice[0]!r} appears twice in one object")
    return dict(pairs)


def _refuse_constant(name: str) -> object:
    raise _Unstorable(f"{name} is not a JSON number")


_decode = json.JSONDecoder(parse_constant=_refuse_constant).decode
_decode_checked = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_refuse_constant).decode
_SPACE_BEFORE_COLON = re.compile(r'"\s+:')


def _key_count(obj: object) -> int:
    """Keys in all the objects of a parsed value."""
    count, stack = 0, [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            count += len(item)
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
    return count


def _parse_line(line: str) -> object:
    """json.loads that refuses duplicate keys, NaN/Infinity and strings the database cannot store.

    The fast path parses without a per-object hook and proves there was no repeated key: in JSON a `":` can
    only end a key (a quote inside a string is escaped), so when no key ends in a backslash and no space stands
    before a colon, the line has exactly `line.count('":')` keys; a repeated key would leave the parsed objects
    with fewer. Otherwise (or on a mismatch) the line is parsed again with the checking hook. Likewise only a
    line with a `\\u` escape can spell a NUL or a lone surrogate (the bytes themselves were refused when read).
    """
    try:
        obj = _decode(line)
        if _key_count(obj) != line.count('":') or '\\":' in line or _SPACE_BEFORE_COLON.search(line):
            obj = _decode_checked(line)
    except RecursionError:
        raise _Unstorable("the JSON is nested too deeply") from None
    if "\\u" in line:
        problem = unstorable_text(obj)
        if problem:
            raise _Unstorable(f"the line contains {problem}")
    return obj


def _one_path(value: object) -> tuple[str, ...] | None:
    """A path given as a list of names or as "A > B"; None when it is neither."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(PATH_SEPARATOR))
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(v.strip() for v in value)
    return None


def _record_from_object(source: str, line_no: int, obj: dict, split_map, check) -> Record | RecordError:
    if "text" not in obj:
        return RecordError(source, line_no, "missing the text field", field="text")
    text = obj["text"]
    if not isinstance(text, str):
        return RecordError(source, line_no, "text must be a string", field="text")
    if not text.strip():
        return RecordError(source, line_no, "empty text", field="text")
    doc_id = obj.get("id")
    if doc_id is not None:
        if isinstance(doc_id, bool) or not isinstance(doc_id, str | int):
            return RecordError(source, line_no, "id must be a string or an integer", field="id")
        doc_id = str(doc_id).strip()
        if not doc_id:
            return RecordError(source, line_no, "empty id", field="id")
    split = normalise_split(obj.get("split"), split_map)
    if split is None:
        return RecordError(source, line_no, unknown_split_message(obj.get("split")), field="split")
    paths: list[tuple[str, ...]] = []
    if obj.get("paths") is not None:
        if not isinstance(obj["paths"], list):
            return RecordError(source, line_no, "paths must be a list of paths", field="paths")
        for value in obj["paths"]:
            path = _one_path(value)
            if path is None:
                return RecordError(source, line_no, "each path must be a list of label names", field="paths")
            paths.append(path)
    if obj.get("path") not in (None, [], ""):
        path = _one_path(obj["path"])
        if path is None:
            return RecordError(source, line_no, "path must be a list of label names", field="path")
        if paths and path not in paths:
            return RecordError(source, line_no, "path is not one of paths; give one or the other", field="path")
        if not paths:
            paths = [path]
    for path in paths:
        problem = check(path)
        if problem:
            return RecordError(source, line_no, problem, field="path")
    meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
    meta = {**{k: v for k, v in obj.items() if k not in KNOWN_KEYS}, **meta}
    return Record(source, line_no, doc_id, text, dedupe_paths(paths), split, meta)


@register_reader("jsonl", [".jsonl", ".ndjson"])
def read_jsonl(stream: BinaryIO, source: str, *, split_map=None) -> Iterator[Record | RecordError]:
    check = PathChecker()
    for line_no, line in iter_text_lines(stream, source):
        if not line.strip():
            continue
        try:
            obj = _parse_line(line)
        except json.JSONDecodeError as exc:
            yield RecordError(source, line_no, f"invalid JSON: {exc.msg}", column=exc.pos + 1)
            continue
        except _Unstorable as exc:
            yield RecordError(source, line_no, str(exc))
            continue
        if not isinstance(obj, dict):
            yield RecordError(source, line_no, "each line must be a JSON object")
            continue
        yield _record_from_object(source, line_no, obj, split_map, check)


@register_writer("jsonl", "application/x-ndjson; charset=utf-8", "jsonl")
def write_jsonl(rows: Iterable[ExportRow], depth: int, *, generated_column: bool = False) -> Iterator[str]:
    """One object a line: id, text, split, paths (meta when a document has any; "generated": true for
    LLM-written documents)."""
    chunk: list[str] = []
    for row in rows:
        obj = {"id": row.id, "text": row.text, "split": row.split, "paths": row.paths}
        if row.generated:
            obj["generated"] = True
        if row.meta:
            obj["meta"] = row.meta
        chunk.append(json.dumps(obj, ensure_ascii=False) + "\n")
        if len(chunk) >= 200:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
