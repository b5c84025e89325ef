"""Small helpers shared by the serializers."""

from __future__ import annotations

# Ids fit a signed 64-bit column; larger numbers are refused (400) before they reach the database.
from htc_app.params import MAX_ID as MAX_ID  # one id range for the whole project


def username_of(user) -> str | None:
    """The user's username, or None for a deleted user."""
    return user.get_username() if user is not None else None
