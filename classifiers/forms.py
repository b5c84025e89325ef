"""Forms of the classifiers pages: validation only; the services do the work."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from classifiers.engine import registry
from classifiers.services import parse_params


def strategy_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(registry.STRATEGIES)]


class RunForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Left empty: strategy, shots and seed.")
    strategy = forms.ChoiceField(choices=strategy_choices, initial="tfidf")
    shots = forms.IntegerField(min_value=0, initial=0, help_text="Documents per leaf path; 0 = the whole train split.")
    seed = forms.IntegerField(initial=550)
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

    def clean_params(self) -> dict:
        try:
            return parse_params(self.cleaned_data.get("params", "").splitlines())
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("params", exc.messages)) from exc


class RunJobForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("predict", "Predict"), ("evaluate", "Evaluate"), ("pipeline", "Predict and evaluate")]
    )
    split = forms.ChoiceField(choices=[("test", "test"), ("dev", "dev"), ("train", "train"), ("all", "all")])
