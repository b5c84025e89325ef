"""Small helpers shared by the serializers."""

from __future__ import annotations


def username_of(user) -> str | None:
    """The user's username, or None for a deleted user."""
    return user.get_username() if user is not None else None
