"""Strings from uploaded JSON that a database cannot store faithfully.

JSON may spell a NUL (\\u0000), which PostgreSQL refuses in text and jsonb columns, and an unpaired surrogate
(\\ud800), which is not text at all and fails to encode on every backend. Readers refuse both with a message
instead of letting the write fail halfway through an import.
"""

from __future__ import annotations


def unstorable_text(value: object) -> str | None:
    """Why a string anywhere in `value` (keys, values, nested lists) cannot be stored, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a NUL character (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "an unpaired surrogate (\\ud800-\\udfff)"
    return None
