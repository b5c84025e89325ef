"""Fernet encryption of stored API keys, under a key separate from SECRET_KEY.

The key comes from `HTC_FERNET_KEY`, or is generated once into `HTC_DATA_DIR/fernet_key` (mode 0600).
"""

from __future__ import annotations

import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


class KeyDecryptError(RuntimeError):
    """The stored key cannot be decrypted (the Fernet key changed): it must be entered again."""


@lru_cache(maxsize=4)
def _fernet_for(configured: str, key_file: str) -> Fernet:
    if configured:
        return Fernet(configured.encode())
    if not os.path.exists(key_file):
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
    with open(key_file, "rb") as fh:
        return Fernet(fh.read().strip())


def fernet() -> Fernet:
    return _fernet_for(settings.HTC_FERNET_KEY or "", str(settings.HTC_DATA_DIR / "fernet_key"))


def encrypt_secret(value: str) -> str:
    """The Fernet token of a secret (text)."""
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The secret back from its token; raises KeyDecryptError (without the token) when it cannot be read."""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise KeyDecryptError("The stored API key cannot be decrypted; enter it again.") from exc
