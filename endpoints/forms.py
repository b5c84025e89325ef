from django import forms

from classifiers.engine.llm.prompts import DEFAULT_TEMPLATES, PLACEHOLDERS
from htc_app.forms import BidiForm

_PLACEHOLDER_HELP = "Placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS) + ". Leave empty for the default."


class EndpointForm(BidiForm):
    base_url = forms.CharField(
        max_length=500,
        label="Base URL",
        help_text="An OpenAI-compatible API, e.g. https://api.openai.com/v1. Plain http only for operator-approved hosts.",
    )
    model = forms.CharField(max_length=200)
    api_key = forms.CharField(
        required=False,
        label="API key",
        max_length=4096,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")
    price_in_per_1k = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=6, initial=0, label="Price per 1k prompt tokens"
    )
    price_out_per_1k = forms.DecimalField(
        min_value=0, max_digits=12, decimal_places=6, initial=0, label="Price per 1k completion tokens"
    )
    concurrency = forms.IntegerField(
        min_value=1, max_value=32, initial=2, help_text="Parallel requests to this endpoint."
    )
    timeout = forms.FloatField(min_value=1, max_value=600, initial=60, label="Timeout (seconds)")
    template_system = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="System prompt")
    template_dl = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="DL template", help_text=_PLACEHOLDER_HELP
    )
    template_dh = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="DH template", help_text=_PLACEHOLDER_HELP
    )
    template_tmh = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}), label="TMH template", help_text=_PLACEHOLDER_HELP
    )

    TEMPLATE_FIELDS = {f"template_{key}": key for key in DEFAULT_TEMPLATES}

    def templates(self) -> dict[str, str]:
        return {key: self.cleaned_data.get(field) or "" for field, key in self.TEMPLATE_FIELDS.items()}

    def service_kwargs(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.TEMPLATE_FIELDS}
        return {**data, "templates": self.templates()}
