"""Bidi isolation of user text: one mechanism for every page (issue 21).

A label, project, run or document name may hold right-to-left text or an explicit override (U+202E). Shown next
to htc's own words, such text can reorder them ("evil" + RLO turns "Added X." into nonsense). Each piece of user
text is therefore isolated on its own, in one of two ways:

- in HTML content, `<bdi>` around it (the `bdi` template filter), or `dir="auto"` on an element that holds only
  that text (a document's body, a text field);
- where no element is allowed (a page `<title>`, an `<option>`, an attribute such as `title=`, SVG `<text>`,
  a flash message), the Unicode isolates FSI ... PDI around it (`isolate`, here and as a template filter).
  PDI closes whatever embedding or override the text left open, so nothing leaks past it. Text that holds no
  right-to-left or explicit bidi character cannot reorder anything and gets no isolates (no invisible
  characters in what people copy, type-ahead in a select still finds the name).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

FSI = "\u2068"  # FIRST STRONG ISOLATE: the text takes the direction of its first strong character
PDI = "\u2069"  # POP DIRECTIONAL ISOLATE: ends the isolate and every embedding opened inside it
PATH_SEPARATOR = " › "


#: Bidi classes that can reorder text around them: right-to-left letters, Arabic numbers and the explicit
#: embeddings, overrides and isolates. Text without any of them reads the same isolated or not.
REORDERING_CLASSES = frozenset({"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"})


def needs_isolation(text: str) -> bool:
    """Whether `text` holds a character that can reorder its neighbours (see REORDERING_CLASSES)."""
    return any(unicodedata.bidirectional(ch) in REORDERING_CLASSES for ch in text)


def isolate(text: object) -> str:
    """`text` between FSI and PDI when it holds right-to-left or explicit bidi characters (plain text, to be
    escaped as usual); left-to-right text is returned as it is, so it stays findable as typed (a select's
    type-ahead, a search in the page), and "" stays ""."""
    value = "" if text is None else str(text)
    return f"{FSI}{value}{PDI}" if needs_isolation(value) else value


def isolate_path(names: Iterable[object], separator: str = PATH_SEPARATOR) -> str:
    """Names joined by `separator`, each isolated on its own (so one name cannot reorder the separators)."""
    return separator.join(isolate(name) for name in names)
