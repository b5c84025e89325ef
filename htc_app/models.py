"""Failed sign-ins, for throttling the login form and API tokens per account and per address."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from htc_app.bidi import isolate


class SignInFailure(models.Model):
    """One failed sign-in. `scope` says whether `key` is an account (lower-cased user name) or an address."""

    class Scope(models.TextChoices):
        ACCOUNT = "account", "Account"
        ADDRESS = "address", "Address"

    scope = models.CharField(max_length=8, choices=Scope.choices)
    key = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["scope", "key", "created_at"], name="signin_failure_lookup")]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.scope} {isolate(self.key)} at {self.created_at:%Y-%m-%d %H:%M:%S}"  # the admin shows it
