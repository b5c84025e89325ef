"""Sign-in throttling per account and per address (login form and API tokens), on a small database table.

After `HTC_SIGNIN_MAX_FAILURES` failed sign-ins for one account, or `HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS` from one
address, within `HTC_SIGNIN_LOCKOUT_SECONDS`, further attempts are refused with a lockout message, even with the
right password, until the window has passed or an administrator unlocks it (admin: "Failed sign-ins", action
"Unlock"). A successful sign-in clears its account's failures. Counting in the database (not a per-process cache)
makes the limit hold across every web worker.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from htc_app.models import SignInFailure

ACCOUNT = SignInFailure.Scope.ACCOUNT
ADDRESS = SignInFailure.Scope.ADDRESS


def _window() -> timedelta:
    return timedelta(seconds=int(getattr(settings, "HTC_SIGNIN_LOCKOUT_SECONDS", 900)))


def _limits() -> dict[str, int]:
    return {
        ACCOUNT: int(getattr(settings, "HTC_SIGNIN_MAX_FAILURES", 5)),
        ADDRESS: int(getattr(settings, "HTC_SIGNIN_MAX_FAILURES_PER_ADDRESS", 20)),
    }


def client_address(request) -> str:
    """The caller's address: behind the production proxy its X-Real-IP (set by nginx), else REMOTE_ADDR."""
    if getattr(settings, "HTC_PRODUCTION", False):
        real = request.META.get("HTTP_X_REAL_IP", "").strip()
        if real:
            return real[:255]
    return str(request.META.get("REMOTE_ADDR") or "unknown")[:255]


def _keys(username: str | None, address: str) -> list[tuple[str, str]]:
    keys = [(ADDRESS, address)]
    if username:
        keys.append((ACCOUNT, username.strip().lower()[:255]))
    return keys


def signin_locked(*, username: str | None, address: str) -> str | None:
    """The lockout message when the account or the address has too many recent failures, else None."""
    since = timezone.now() - _window()
    limits = _limits()
    for scope, key in _keys(username, address):
        recent = SignInFailure.objects.filter(scope=scope, key=key, created_at__gte=since)
        if limits[scope] > 0 and recent.count() >= limits[scope]:
            last = recent.order_by("-created_at").values_list("created_at", flat=True).first()
            minutes = max(1, int(((last + _window()) - timezone.now()).total_seconds() // 60) + 1)
            what = "this account" if scope == ACCOUNT else "your address"
            return (
                f"Too many failed sign-ins for {what}. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
                "or ask an administrator to unlock it."
            )
    return None


def signin_failed(*, username: str | None, address: str) -> None:
    """Record one failed sign-in for the account (when named) and the address; old rows are pruned."""
    now = timezone.now()
    try:
        with transaction.atomic():
            SignInFailure.objects.bulk_create(
                [SignInFailure(scope=scope, key=key, created_at=now) for scope, key in _keys(username, address)]
            )
            SignInFailure.objects.filter(created_at__lt=now - 2 * _window()).delete()
    except DatabaseError:
        pass  # a full or busy database must not turn a wrong password into a server error


def signin_succeeded(*, username: str) -> None:
    """A correct sign-in clears the account's failures (the address keeps its own count)."""
    try:
        SignInFailure.objects.filter(scope=ACCOUNT, key=username.strip().lower()).delete()
    except DatabaseError:
        pass


def signin_unlock(*, scope: str, key: str) -> int:
    """Forget every failure recorded for an account or an address (the admin's unlock); returns how many."""
    deleted, _ = SignInFailure.objects.filter(scope=scope, key=key).delete()
    return deleted
