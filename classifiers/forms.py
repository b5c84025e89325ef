"""Forms of the classifiers pages: validation only; the services do the work."""

from __future__ import annotations

import json

from django import forms
from django.core.exceptions import ValidationError

from classifiers.cascading import CASCADE, MAX_STAGES, cascade_params_clean
from classifiers.engine import registry
from classifiers.selectors import run_possible_jobs
from classifiers.services import parse_params
from htc_app.forms import BidiForm, isolate_text_fields

MAIN_FIELDS = ("name", "strategy", "shots", "seed", "corrector", "params", "split")
STAGE_PARTS = ("strategy", "params", "corrector", "threshold")


def strategy_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(registry.STRATEGIES)]


def stage_strategy_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(name, name) for name in sorted(registry.STRATEGIES) if name != CASCADE]


def params_as_lines(params: dict) -> str:
    """A params dict as the KEY=VALUE lines the form reads back (values as JSON)."""
    return "\n".join(f"{key}={json.dumps(value)}" for key, value in params.items())


class RunForm(BidiForm):
    name = forms.CharField(max_length=200, required=False, help_text="Left empty: strategy, shots and seed.")
    strategy = forms.ChoiceField(choices=strategy_choices, initial="auto")
    shots = forms.IntegerField(min_value=0, initial=0, help_text="Documents per leaf path; 0 = the whole train split.")
    # numpy seeds the sampler with it (a negative seed crashes it); the column is a signed 32-bit integer.
    seed = forms.IntegerField(initial=550, min_value=0, max_value=2**31 - 1)
    corrector = forms.ChoiceField(choices=[("", "none"), ("crf", "CRF")], required=False)
    params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "C=4\nngram_range=[1, 2]"}),
        required=False,
        help_text=(
            "One KEY=VALUE a line; values are read as JSON when possible. Strategy weak (cold start, uses no gold "
            "label, ignores shots): scorer=zeroshot or llm-dl/llm-dh/llm-tmh, base=embed, tfidf or hierverb, "
            "threshold=0.5 (the pseudo-label confidence)."
        ),
    )
    split = forms.ChoiceField(
        choices=[("test", "test"), ("dev", "dev"), ("all", "all documents")],
        initial="test",
        label="Then predict and evaluate",
    )
    review = forms.BooleanField(
        required=False,
        label="Send the rest to human review",
        help_text="Documents the last stage is less sure of than the review threshold go first in the review queue.",
    )
    review_threshold = forms.FloatField(min_value=0.0, max_value=1.0, required=False, initial=0.5)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for k in range(1, MAX_STAGES + 1):
            self.fields[f"stage{k}_strategy"] = forms.ChoiceField(
                choices=stage_strategy_choices, required=False, label=f"Stage {k} strategy"
            )
            self.fields[f"stage{k}_params"] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 2}), required=False, label=f"Stage {k} parameters"
            )
            self.fields[f"stage{k}_corrector"] = forms.ChoiceField(
                choices=[("", "none"), ("crf", "CRF")], required=False, label=f"Stage {k} corrector"
            )
            self.fields[f"stage{k}_threshold"] = forms.FloatField(
                min_value=0.0,
                max_value=1.0,
                required=False,
                label=f"Stage {k} threshold",
                help_text="Documents below this confidence go to the next stage (empty for the last stage).",
            )
        isolate_text_fields(self)  # the stage fields added here too

    # ----- layout helpers for the template -----
    def main_fields(self) -> list:
        return [self[name] for name in MAIN_FIELDS]

    def stage_groups(self) -> list[dict]:
        return [
            {"number": k, "fields": [self[f"stage{k}_{part}"] for part in STAGE_PARTS]}
            for k in range(1, MAX_STAGES + 1)
        ]

    def review_fields(self) -> list:
        return [self["review"], self["review_threshold"]]

    # ----- validation -----
    def clean_params(self) -> dict:
        try:
            return parse_params(self.cleaned_data.get("params", "").splitlines())
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("params", exc.messages)) from exc

    def clean(self) -> dict:
        data = super().clean()
        used = [k for k in range(1, MAX_STAGES + 1) if data.get(f"stage{k}_strategy")]
        if data.get("strategy") != CASCADE:
            if used:
                self.add_error(f"stage{used[0]}_strategy", "Stages are used only with the cascade strategy.")
            return data
        if "params" not in data:
            return data  # the KEY=VALUE lines did not parse; that error is shown already
        params = dict(data["params"])
        typed_json = "stages" in params  # stages=[...] in the parameters, as on the command line
        if typed_json and used:
            self.add_error("params", "Give the stages either in the stage fields or as stages=[...] here, not both.")
            return data
        if not typed_json:
            stages = self._stages_from_fields(data, used)
            if stages is None:
                return data
            params["stages"] = stages
        try:
            data["params"] = cascade_params_clean(params)
        except ValidationError as exc:
            for message in exc.message_dict.get("params", exc.messages):
                self.add_error("params" if typed_json else None, message)
        return data

    def _stages_from_fields(self, data: dict, used: list[int]) -> list[dict] | None:
        """The stages typed into the stage fields, or None after adding errors to them."""
        if not used:
            self.add_error("stage1_strategy", "A cascade needs at least a first stage (or stages=[...] in parameters).")
            return None
        if used != list(range(1, len(used) + 1)):
            gap = next(k for k in range(1, MAX_STAGES + 1) if k not in used)
            self.add_error(f"stage{gap}_strategy", f"Fill in stage {gap} before the stages after it.")
            return None
        stages, ok = [], True
        last = used[-1]
        for k in used:
            try:
                params = parse_params((data.get(f"stage{k}_params") or "").splitlines())
            except ValidationError as exc:
                self.add_error(f"stage{k}_params", exc.message_dict.get("params", exc.messages))
                ok = False
                params = {}
            threshold = data.get(f"stage{k}_threshold")
            if k < last and threshold is None:
                self.add_error(
                    f"stage{k}_threshold",
                    f"Stage {k} passes documents below this confidence to stage {k + 1}: give a number from 0 to 1.",
                )
                ok = False
            if k == last and threshold is not None:
                self.add_error(
                    f"stage{k}_threshold",
                    f"Stage {k} is the last stage: leave its threshold empty; use the review threshold to send "
                    "documents it is unsure of to human review.",
                )
                ok = False
            if k == last:
                review_threshold = data.get("review_threshold")
                if data.get("review") and review_threshold is None:
                    self.add_error("review_threshold", "Give the confidence below which documents go to review.")
                    ok = False
                threshold = float(review_threshold or 0.0) if data.get("review") else 0.0
            stages.append(
                {
                    "strategy": data[f"stage{k}_strategy"],
                    "params": params,
                    "corrector": data.get(f"stage{k}_corrector") or "",
                    "threshold": float(threshold or 0.0),
                }
            )
        return stages if ok else None


def run_form_initial(query) -> dict:
    """Initial values of the new-run form from a query string (a prefilled "apply this threshold" link)."""
    names = set(MAIN_FIELDS) | {"review", "review_threshold"}
    names |= {f"stage{k}_{part}" for k in range(1, MAX_STAGES + 1) for part in STAGE_PARTS}
    initial = {name: query.get(name) for name in names if query.get(name) not in (None, "")}
    if "review" in initial:
        initial["review"] = initial["review"] in ("1", "on", "true")
    return initial


class RunJobForm(forms.Form):
    kind = forms.ChoiceField(choices=[])
    split = forms.ChoiceField(choices=[("test", "test"), ("dev", "dev"), ("train", "train"), ("all", "all")])
    labels = forms.ChoiceField(
        choices=[("uploaded", "against the uploaded gold (frozen)"), ("reviewed", "against reviewed labels")],
        initial="uploaded",
        required=False,
    )

    def __init__(self, *args, run, has_predictions: bool | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = run_possible_jobs(run, has_predictions=has_predictions)


class RunUpdateForm(BidiForm):
    name = forms.CharField(max_length=200, required=False, help_text="Left empty: the run's name + “+new-labels”.")
    rehearsal = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        initial=0.3,
        label="Rehearsal share",
        help_text="Share of the run's old training documents replayed with the new ones (0 to 1).",
    )
    epochs = forms.IntegerField(
        min_value=1, max_value=50, initial=2, label="Fine-tuning epochs", help_text="HierVerb only."
    )
