"""Reading an LLM's answer and validating it against the taxonomy. Nothing is ever coerced.

A label is accepted by, in order: an exact match; a normalised match (case, whitespace and
punctuation ignored); a close match (difflib ratio of the normalised strings at or above
`threshold`, with a single best candidate). Anything else is invalid and the raw text is kept.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


@dataclass
class LabelMatch(Generic[T]):
    value: T | None
    how: str  # "exact", "normalised", "close", or "" when invalid
    answer: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


def normalise(text: str) -> str:
    """Casefold, strip accents' compatibility forms, turn punctuation into spaces, collapse spaces."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def match_label(answer: object, allowed: Mapping[str, T], *, threshold: float = 0.85) -> LabelMatch[T]:
    """Match one answered label against the allowed answer strings (see the module docstring)."""
    if not isinstance(answer, str):
        return LabelMatch(None, "", json.dumps(answer, ensure_ascii=False)[:200], "the label is not a string")
    text = answer.strip()
    if not text:
        return LabelMatch(None, "", answer, "empty answer")
    if text in allowed:
        return LabelMatch(allowed[text], "exact", answer)
    target = normalise(text)
    by_norm: dict[str, list[str]] = {}
    for key in allowed:
        by_norm.setdefault(normalise(key), []).append(key)
    keys = by_norm.get(target)
    if keys:
        if len({_ident(allowed[k]) for k in keys}) > 1:
            return LabelMatch(None, "", answer, "ambiguous label")
        return LabelMatch(allowed[keys[0]], "normalised", answer)
    if threshold < 1.0 and target:
        scored = sorted(
            ((difflib.SequenceMatcher(None, target, norm).ratio(), norm) for norm in by_norm),
            key=lambda pair: -pair[0],
        )
        if scored and scored[0][0] >= threshold:
            if len(scored) > 1 and scored[1][0] == scored[0][0]:
                return LabelMatch(None, "", answer, "ambiguous close match")
            return LabelMatch(allowed[by_norm[scored[0][1]][0]], "close", answer)
    return LabelMatch(None, "", answer, "unknown label")


def _ident(value: object) -> object:
    return tuple(value) if isinstance(value, list) else value


def extract_fields(raw: str, keys: Sequence[str]) -> tuple[dict[str, object] | None, str]:
    """The answer's JSON object (the whole text, or the first object inside it) with `keys`.

    Returns (fields, "") or (None, reason). With one key, a bare answer that is not JSON is taken
    as that key's value (servers without constrained decoding often answer just the label)."""
    text = (raw or "").strip()
    if not text:
        return None, "empty answer"
    try:
        data = _load_object(text)
        if data is None:
            found = [obj for m in _JSON_OBJECT.finditer(text) if (obj := _load_object(m.group(0))) is not None]
            if len(found) > 1:
                return None, "several JSON objects (more than one answer)"
            data = found[0] if found else None
    except _DuplicateKey as exc:
        return None, str(exc)
    if data is None:
        if text.startswith("{") or text.startswith("["):
            return None, "invalid JSON"
        if len(keys) == 1:
            return {keys[0]: _strip_bare(text)}, ""
        return None, "not a JSON object"
    missing = [k for k in keys if k not in data]
    if len(keys) == 1 and missing:
        return None, f"missing key {keys[0]!r}"
    return {k: data.get(k) for k in keys}, ""


class _DuplicateKey(ValueError):
    """An object that gives one key twice: two answers, not one (json.loads would keep the last)."""


def _pairs_without_duplicates(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise _DuplicateKey(f"the key {next(k for k in keys if keys.count(k) > 1)!r} appears twice (several answers)")
    return dict(pairs)


def _load_object(text: str) -> dict | None:
    try:
        data = json.loads(text, object_pairs_hook=_pairs_without_duplicates)
    except _DuplicateKey:
        raise
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _strip_bare(text: str) -> str:
    # A single line, optionally quoted or bulleted, is a bare label; anything longer stays as written
    # so that prose fails validation instead of being mined for a label.
    line = text.strip()
    if "\n" in line:
        return line
    return line.strip().strip("\"'`").lstrip("-* ").strip()


def split_path_answer(value: str) -> list[str]:
    """'A > B > C' (or 'A/B/C' when there is no '>') as its parts."""
    sep = ">" if ">" in value else None
    return [part.strip() for part in value.split(sep)] if sep else [value.strip()]
