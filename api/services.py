"""Writes for API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from api.models import ApiToken, token_hash

KEY_PREFIX = "htc_"
MAX_ACTIVE_TOKENS = 50
MAX_TOKENS_PER_HOUR = 20  # per account: creating keys in bulk is refused (429)


class TokenRateLimited(Exception):
    """Too many tokens created by one account in the last hour."""


@transaction.atomic
def token_create(*, user, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`; returns (row, key). The key is not stored and cannot be shown again."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise ValidationError("Only an active user can own a token.")
    hour_ago = timezone.now() - timedelta(hours=1)
    if ApiToken.objects.filter(user=user, created_at__gte=hour_ago).count() >= MAX_TOKENS_PER_HOUR:
        raise TokenRateLimited(f"At most {MAX_TOKENS_PER_HOUR} tokens can be created per hour; try again later.")
    if ApiToken.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_ACTIVE_TOKENS:
        raise ValidationError(f"A user may have at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first.")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=(name or "").strip()[:100], prefix=key[:12], key_hash=token_hash(key)
    )
    return token, key


@transaction.atomic
def token_revoke(*, token: ApiToken, actor) -> ApiToken:
    """Revoke one of the actor's own tokens (idempotent); returns it."""
    if token.user_id != actor.pk:
        raise ValidationError("You can revoke only your own tokens.")
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token
