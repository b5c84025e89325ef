"""`ensemble` and `auto` runs in the app (`SelectionHooks`, registered in classifiers.strategies.HOOKS): their
parameters are checked when the run (or configuration) is created, so a typo is a form error naming the member,
not a failed job; the trained estimator's report (leaderboard, weights) goes to Run.stats[strategy]."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError

from classifiers.adapters import json_number
from classifiers.engine import registry
from classifiers.strategies import StrategyHooks

NOT_NESTED = ("ensemble", "auto", "cascade")


def _members_errors(label: str, members: Any, low: int, high: int) -> list[str]:
    if not isinstance(members, list) or not low <= len(members) <= high:
        return [
            f'{label} must be a JSON list of {low} to {high} objects such as {{"strategy": "tfidf", "params": {{}}}}.'
        ]
    errors = []
    for k, member in enumerate(members, start=1):
        if not isinstance(member, dict) or set(member) - {"strategy", "params"}:
            errors.append(f"{label} {k}: expected an object with strategy and params only.")
            continue
        strategy = member.get("strategy")
        if strategy in NOT_NESTED:
            errors.append(f"{label} {k}: {strategy!r} cannot be nested here.")
        elif strategy not in registry.STRATEGIES:
            errors.append(f"{label} {k}: unknown strategy {strategy!r}.")
        params = member.get("params") or {}
        if not isinstance(params, dict) or not all(isinstance(key, str) and key.isidentifier() for key in params):
            errors.append(f"{label} {k}: params must be an object of name: value pairs.")
    return errors


def selection_params_clean(*, strategy: str, params: dict | None) -> dict:
    """Check an ensemble's `members` and auto's `candidates` / `budget_minutes`; other strategies pass as given."""
    params = dict(params or {})
    errors: list[str] = []
    if strategy == "ensemble":
        errors += _members_errors("Member", params.get("members"), 2, 4)
        weights = params.get("weights")
        if weights is not None and (
            not isinstance(weights, list)
            or len(weights) != len(params.get("members") or [])
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
        ):
            errors.append("weights must be a list of non-negative numbers, one per member (or left out to fit them).")
        if "refit" in params and not isinstance(params["refit"], bool):
            errors.append(
                "refit must be true (the members learn from every training document once the weights are fitted) "
                "or false (they keep the model trained without the held-out share)."
            )
    elif strategy == "auto":
        if "candidates" in params:
            errors += _members_errors("Candidate", params["candidates"], 1, 8)
        budget = params.get("budget_minutes", 20.0)
        if isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
            errors.append("budget_minutes must be a number of minutes above 0.")
    if errors:
        raise ValidationError({"params": errors})
    return params


class SelectionHooks(StrategyHooks):
    def clean_params(self, params: dict, *, corrector: str) -> dict:
        return selection_params_clean(strategy=self.name, params=super().clean_params(params, corrector=corrector))

    def members(self, params: dict) -> list[str]:
        members = params.get("members") if self.name == "ensemble" else params.get("candidates")
        if self.name == "auto" and not members:
            from classifiers.engine.auto import DEFAULT_CANDIDATES

            members = DEFAULT_CANDIDATES
        return [str(m.get("strategy", "")) for m in members or [] if isinstance(m, dict)]

    def training_free(self, params: dict) -> bool:
        # auto with no labels runs its training-free candidates (zero-shot) only
        return self.name == "auto" or super().training_free(params)

    def after_fit(self, *, run, estimator, doc_ids, hierarchy) -> dict[str, Any]:
        return {self.name: json.loads(json.dumps(estimator.report(), default=json_number))}
