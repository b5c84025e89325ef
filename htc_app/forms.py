"""The login form with throttling per account and per address (see htc_app/signin.py), and the base of forms
whose text fields hold user text in either direction (BidiForm)."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from htc_app.signin import client_address, signin_failed, signin_locked, signin_succeeded


class ThrottledAuthenticationForm(AuthenticationForm):
    def clean(self):
        username = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        locked = signin_locked(username=username, address=address)
        if locked:
            raise ValidationError(locked, code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            signin_failed(username=username, address=address)
            raise
        signin_succeeded(username=username)
        return cleaned


def isolate_text_fields(form: forms.BaseForm) -> None:
    """Give every text input and text area of `form` dir="auto": what people type (a name in Hebrew, a prompt
    with an RTL override) is isolated from the page and shown in its own direction (htc_app/bidi.py)."""
    for field in form.fields.values():
        if isinstance(field.widget, forms.TextInput | forms.Textarea):
            field.widget.attrs.setdefault("dir", "auto")


class BidiForm(forms.Form):
    """A form whose text fields isolate their content (isolate_text_fields)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        isolate_text_fields(self)
