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
    """TMH: level by level, each call listing only the children of the label chosen one level up."""

    strategy_name = "llm-tmh"
    template_key = "tmh"
    every_level_examples = True

    def _classify(self, text: str, client: LLMClient, outcome: DocOutcome) -> None:
        h = self.hierarchy_
        prefix: list[int] = []
        while True:
            parent = prefix[-1] if prefix else None
            choices = P.child_answers(h, parent)
            if not choices:
                break
            if len(choices) == 1:  # nothing to choose: no call
                prefix.append(next(iter(choices.values())))
                continue
            examples = [
                (self.example_texts_[i], {"label": h.names[c]})
                for c in choices.values()
                for i in self._example_docs([c])
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
                return outcome.invalidate(reason if match is None else match.reason, level=len(prefix) + 1)
            prefix.append(match.value)
            outcome.how = match.how if outcome.how in ("", "exact") else outcome.how
        outcome.accept(tuple(prefix), outcome.how or "exact")
