"""The login form with throttling per account and per address (see htc_app/signin.py)."""

from __future__ import annotations

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
