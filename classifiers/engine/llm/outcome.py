"""What happened to one document: the calls, the raw answers, the path, and whether it was valid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from classifiers.engine.hierarchy import Hierarchy, Path
from classifiers.engine.llm.parsing import match_label

_HOW_RANK = {"exact": 0, "normalised": 1, "close": 2}


@dataclass
class DocOutcome:
    path: Path = ()
    raw_path: Path = ()  # the path as answered, before any repair (may be inconsistent)
    raws: list[str] = field(default_factory=list)
    valid: bool = True
    consistent: bool = True
    repaired: bool = False
    invalid: dict[str, Any] | None = None  # {"raw", "reason", "level"} when the answer was not accepted
    failed: str | None = None  # why the call failed after retries
    how: str = ""  # the weakest label match used: exact, normalised or close
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cached: bool = False
    truncated: bool = False  # an answer stopped at max_tokens
    answered: bool = True  # False: never asked (the run stopped first); nothing about it is known

    @property
    def raw(self) -> str:
        return "\n".join(self.raws)

    def add_call(self, result) -> None:
        self.raws.append(result.text)
        self.calls += 1
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.cached = self.cached or result.cached
        self.truncated = self.truncated or getattr(result, "finish_reason", "") == "length"

    def note_how(self, how: str) -> None:
        if how and _HOW_RANK.get(how, 0) >= _HOW_RANK.get(self.how, -1):
            self.how = how

    def accept(self, path: Path, how: str = "") -> None:
        self.path = tuple(path)
        self.raw_path = self.raw_path or self.path
        self.note_how(how)

    def invalidate(self, reason: str, *, level: int | None = None) -> None:
        self.valid = False
        if self.truncated:
            reason = f"{reason} (the answer was cut off at max_tokens)"
        self.invalid = {"raw": self.raw, "reason": reason, "level": level}

    def skip(self) -> None:
        """The document was not asked because the run stopped (cancel, or a fatal error on another call)."""
        self.answered = False
        self.valid = False
        self.path = ()

    def fail(self, reason: str) -> None:
        self.valid = False
        self.path = ()
        self.failed = reason


def resolve_levels(
    h: Hierarchy,
    values: Sequence[object],
    allowed: Sequence[Mapping[str, list[int]]],
    outcome: DocOutcome,
    threshold: float,
    repair: bool,
) -> None:
    """DH: turn one answered label per level into a path, checking parent/child links.

    Stops at the first unknown label (invalid; the answered prefix is kept) or at "(none)".
    Labels that do not chain are kept as answered and the outcome marked inconsistent; with
    `repair`, the deepest valid label is trusted and its ancestors re-derived."""
    path: list[int] = []
    consistent = True
    for d, value in enumerate(values):
        if value is None:
            if not path or h.children[path[-1]]:
                outcome.invalidate(f"missing level{d + 1}", level=d + 1)
                return _finish(h, outcome, path, consistent, repair)
            break
        match = match_label(value, allowed[d], threshold=threshold)
        if not match.ok:
            outcome.invalidate(match.reason, level=d + 1)
            return _finish(h, outcome, path, consistent, repair)
        nodes = match.value
        if not nodes:  # "(none)": the answer stops above this level
            break
        previous = path[-1] if path else -1
        node = next((n for n in nodes if h.parent[n] == previous), None)
        if node is None:
            consistent = False
            node = nodes[0]
        outcome.note_how(match.how)
        path.append(node)
    _finish(h, outcome, path, consistent, repair)


def _finish(h: Hierarchy, outcome: DocOutcome, path: list[int], consistent: bool, repair: bool) -> None:
    outcome.raw_path = tuple(path)
    outcome.consistent = consistent
    final = tuple(path)
    if repair and path and not h.is_valid_path(final):
        final = h.path_to(path[-1])
        outcome.repaired = True
    outcome.path = final
