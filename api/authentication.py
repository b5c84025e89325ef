"""Token authentication: `Authorization: Bearer <key>` (or `Token <key>`), checked against stored hashes."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from api.models import ApiToken, token_hash
from htc_app.signin import client_address, signin_failed, signin_locked

logger = logging.getLogger(__name__)
KEYWORDS = ("bearer", "token")
# last_used_at is a hint, not an audit log: write it at most once a minute per token.
TOUCH_EVERY = timedelta(minutes=1)


def _touch(token: ApiToken, now) -> None:
    """Record the token's last use; a hint only, so a full disk or a busy database never fails the request."""
    try:
        with transaction.atomic():  # a savepoint: a failed write leaves the request's transaction usable
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    except DatabaseError as exc:
        logger.warning("Token %s: last-used time not written (%s)", token.pk, exc)


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a request by an ApiToken; a missing header leaves the request to session auth."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1").lower() not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        address = client_address(request)
        locked = signin_locked(username=None, address=address)
        if locked:
            raise exceptions.Throttled(detail=locked)  # guessing keys from one address stops here
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            signin_failed(username=None, address=address)
            raise exceptions.AuthenticationFailed("Invalid token.") from exc
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key)).first()
        if token is None or token.revoked_at is not None or not token.user.is_active:
            signin_failed(username=None, address=address)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
            _touch(token, now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        # Makes unauthenticated requests 401 (with WWW-Authenticate) rather than 403.
        return 'Bearer realm="api"'
