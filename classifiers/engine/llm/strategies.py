"""DL, DH and TMH: black-box LLM prompting strategies (Yoshimura & Kashima 2025) on the estimator contract.

- DL  ("llm-dl"):  one call listing the leaves with their paths; the answer is one leaf.
- DH  ("llm-dh"):  one call with the whole tree; the answer names one label per level.
- TMH ("llm-tmh"): one call per level, listing only the children of the label chosen one level up
  (a level with a single child is taken without a call).

`fit` calls no model: it keeps the hierarchy and picks the few-shot examples (k per class at the
level asked, seeded; `examples_` holds their indices, `example_groups_` class -> indices). k=0 is
zero-shot. The API key is never a parameter: pass `api_key=` to `predict`/`predict_scores` or call
`set_runtime(api_key=...)`; it is not saved, cloned or shown by `get_params`.

What `predict` returns per document:
- a valid answer: `[path]`, consistent by construction for DL and TMH;
- DH with labels that do not chain (a child under the wrong parent): `[the answered tuple]`, recorded
  as `consistent_[i] = False` for the C/P metrics; with `repair=True` the deepest valid label is
  trusted and its ancestors re-derived (the raw answer stays in `raw_paths_`);
- an invalid answer (unknown label, prose, bad JSON): the valid prefix when there is one (DH, TMH
  levels answered before the bad one), else `[]`; never a guessed label. `invalid_[i]` keeps the raw
  text and the reason;
- a call that failed after the client's retries: `[]`, `failed_[i]` says why, the run goes on.
  An authentication error (401/403) stops the run, and so does a prompt whose labels and examples alone are
  longer than the model's context window (every call would fail the same way).

`predict_scores` turns those answers into one-hot rows per level (uniform rows for levels the
answer does not reach), so the CRF corrector and the metrics can consume LLM outputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from classifiers.engine.llm import prompts as P
from classifiers.engine.llm.client import LLMClient
from classifiers.engine.llm.outcome import DocOutcome, resolve_levels
from classifiers.engine.llm.parsing import extract_fields, match_label, split_path_answer
from classifiers.engine.llm.strategy_base import DEFAULT_BASE_URL, DEFAULT_MODEL, LLMStrategy

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "LLMDirectHierarchical",
    "LLMDirectLeaf",
    "LLMStrategy",
    "LLMTopDownMultiStep",
]


class LLMDirectLeaf(LLMStrategy):
    """DL: one call, the leaves listed with their paths, one leaf answered; ancestors derived."""

    strategy_name = "llm-dl"
    template_key = "dl"

    def _classify(self, text: str, client: LLMClient, outcome: DocOutcome) -> None:
        h = self.hierarchy_
        answers = P.leaf_answers(h)
        accepted = {**{h.path_label(h.path_to(leaf)): leaf for leaf in answers.values()}, **answers}
        leaf_of = {leaf: a for a, leaf in answers.items()}
        examples = [
            (self.example_texts_[i], {"label": leaf_of[self.example_paths_[i][-1]]})
            for i in self._example_docs(list(answers.values()))
            if self.example_paths_[i][-1] in leaf_of
        ]
        user = self._render(
            labels=P.dl_labels(h),
            examples=P.examples_section(examples, int(self.example_chars)),
            descriptions=P.descriptions_section(h, h.leaves, self._descriptions()),
            document=text,
        )
        raw = self._ask(client, user, P.single_label_schema(list(answers)), outcome, document=text)
        fields, reason = extract_fields(raw, ["label"])
        if fields is None:
            return outcome.invalidate(reason)
        match = match_label(fields["label"], accepted, threshold=float(self.match_threshold))
        if not match.ok:
            return outcome.invalidate(match.reason)
        outcome.accept(h.path_to(match.value), match.how)


class LLMDirectHierarchical(LLMStrategy):
    """DH: one call with the whole tree; one label per level, parent/child links checked."""

    strategy_name = "llm-dh"
    template_key = "dh"

    def _default_max_tokens(self) -> int:
        longest = max((len(name) for name in self.hierarchy_.names), default=8)
        return max(64, 16 + self.hierarchy_.n_levels * (8 + longest // 2))

    def _classify(self, text: str, client: LLMClient, outcome: DocOutcome) -> None:
        h = self.hierarchy_
        ragged = P.is_ragged(h)
        allowed = []
        for d in range(1, h.n_levels + 1):
            level = P.level_answers(h, d)
            if ragged and d > 1:
                level = {**level, P.NONE_ANSWER: []}
            allowed.append(level)
        keys = [f"level{d}" for d in range(1, h.n_levels + 1)]
        examples = []
        for i in self._example_docs(sorted(int(k) for k in self.example_groups_)):
            names = h.path_names(self.example_paths_[i])
            examples.append(
                (
                    self.example_texts_[i],
                    {key: (names[d] if d < len(names) else P.NONE_ANSWER) for d, key in enumerate(keys)},
                )
            )
        user = self._render(
            labels=P.dh_labels(h),
            examples=P.examples_section(examples, int(self.example_chars)),
            descriptions=P.descriptions_section(h, range(len(h)), self._descriptions()),
            document=text,
            level=str(h.n_levels),
        )
        raw = self._ask(client, user, P.levels_schema([list(a) for a in allowed]), outcome, document=text)
        fields, reason = extract_fields(raw, keys)
        if fields is None and ">" in raw and "{" not in raw:
            fields, reason = dict(zip(keys, split_path_answer(raw.strip()), strict=False)), ""
        if fields is None:
            return outcome.invalidate(reason)
        resolve_levels(
            h, [fields.get(k) for k in keys], allowed, outcome, float(self.match_threshold), bool(self.repair)
        )


class LLMTopDownMultiStep(LLMStrategy):
    """TMH: level by level, each call listing only the children of the label chosen one level up.

    A prediction asks one level of every document per round (`_rounds`), documents under the same label one after
    another: their prompts agree up to the document, and a server that caches the prompt prefix (llama.cpp) does
    not read the label list and examples again."""

    strategy_name = "llm-tmh"
    template_key = "tmh"
    every_level_examples = True
    #: False: each document asks all its levels before the next document starts (the order before rounds; kept
    #: for the benchmark that compares the two).
    ask_by_level = True

    def _classify(self, text: str, client: LLMClient, outcome: DocOutcome) -> None:
        prefix: list[int] = []
        while self._advance(prefix, outcome) and self._ask_level(text, prefix, client, outcome):
            pass

    def _rounds(self, texts: list[str], client: LLMClient):
        if not self.ask_by_level:
            yield from super()._rounds(texts, client)
            return
        walks = [_Walk() for _ in texts]
        for walk in walks:
            walk.open = self._advance(walk.prefix, walk.outcome)
        tasks = [(i, partial(_finished, walk.outcome)) for i, walk in enumerate(walks) if not walk.open]
        while True:
            asking = [i for i, walk in enumerate(walks) if walk.open]
            asking.sort(key=lambda i: (walks[i].prefix[-1] if walks[i].prefix else -1, i))  # by the label asked under
            tasks += [(i, partial(self._step_safe, texts[i], walks[i], client)) for i in asking]
            if not tasks:
                return
            yield tasks
            tasks = []

    def _step_safe(self, text: str, walk: _Walk, client: LLMClient) -> tuple[DocOutcome, bool]:
        """One level of one document: (its outcome, whether it is finished)."""

        def ask() -> bool:  # False: another level to ask
            more = self._ask_level(text, walk.prefix, client, walk.outcome) and self._advance(walk.prefix, walk.outcome)
            return not more

        walk.open = not self._safely(ask, walk.outcome)
        return walk.outcome, not walk.open

    def _advance(self, prefix: list[int], outcome: DocOutcome) -> bool:
        """Take the levels with a single child (no call); True when there is a choice to ask, else the path is
        complete and accepted."""
        h = self.hierarchy_
        while True:
            choices = P.child_answers(h, prefix[-1] if prefix else None)
            if not choices:
                outcome.accept(tuple(prefix), outcome.how or "exact")
                return False
            if len(choices) > 1:
                return True
            prefix.append(next(iter(choices.values())))

    def _ask_level(self, text: str, prefix: list[int], client: LLMClient, outcome: DocOutcome) -> bool:
        """Ask for the child of `prefix`'s last label; True when the answer names one (appended to `prefix`)."""
        h = self.hierarchy_
        parent = prefix[-1] if prefix else None
        choices = P.child_answers(h, parent)
        examples = [
            (self.example_texts_[i], {"label": h.names[c]}) for c in choices.values() for i in self._example_docs([c])
        ]
        user = self._render(
            labels=P.tmh_labels(h, parent),
            examples=P.examples_section(examples, int(self.example_chars)),
            descriptions=P.descriptions_section(h, list(choices.values()), self._descriptions()),
            document=text,
            level=str(len(prefix) + 1),
            parent_path=P.parent_path_text(h, prefix),
        )
        # Every document's first call asks the same question: only there does an overflow stop the run.
        raw = self._ask(
            client, user, P.single_label_schema(list(choices)), outcome, document=text, shared=not outcome.calls
        )
        fields, reason = extract_fields(raw, ["label"])
        match = match_label(fields["label"], choices, threshold=float(self.match_threshold)) if fields else None
        if match is None or not match.ok:
            outcome.accept(tuple(prefix), "")
            outcome.invalidate(reason if match is None else match.reason, level=len(prefix) + 1)
            return False
        prefix.append(match.value)
        outcome.how = match.how if outcome.how in ("", "exact") else outcome.how
        return True


@dataclass
class _Walk:
    """One document on its way down the tree: the labels chosen so far, what happened, whether a level is left."""

    prefix: list[int] = field(default_factory=list)
    outcome: DocOutcome = field(default_factory=DocOutcome)
    open: bool = True


def _finished(outcome: DocOutcome) -> tuple[DocOutcome, bool]:
    return outcome, True
