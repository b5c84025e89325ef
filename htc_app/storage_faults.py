"""Storage faults in words: a full disk or a read-only filesystem, whichever layer noticed it.

`storage_fault(exc)` looks through an exception and its causes for ENOSPC / EDQUOT / EROFS, SQLite's
"database or disk is full" / "attempt to write a readonly database", and PostgreSQL's disk-full errors. The
middleware answers such a request with 507 (full) or 503 (read-only) and a clear message instead of a 500.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
FULL_TEXTS = ("database or disk is full", "no space left on device", "could not extend file", "disk full")
READONLY_TEXTS = ("readonly database", "read-only file system", "read-only transaction", "read only")


@dataclass(frozen=True)
class StorageFault:
    status: int
    message: str


DISK_FULL = StorageFault(
    507,
    "The server's disk is full, so this change was not saved (nothing already saved was lost). "
    "Ask the operator to free space, then try again.",
)
READ_ONLY = StorageFault(
    503,
    "The server's storage is read-only right now, so this change was not saved (nothing already saved was "
    "lost). Try again later or tell the operator.",
)


def storage_fault(exc: BaseException | None) -> StorageFault | None:
    """DISK_FULL, READ_ONLY, or None when the exception (or any cause in its chain) is not a storage fault."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno is not None:
            if exc.errno in FULL_ERRNOS:
                return DISK_FULL
            if exc.errno == errno.EROFS:
                return READ_ONLY
        text = str(exc).lower()
        if any(t in text for t in FULL_TEXTS):
            return DISK_FULL
        if any(t in text for t in READONLY_TEXTS) and _is_database_or_os_error(exc):
            return READ_ONLY
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def _is_database_or_os_error(exc: BaseException) -> bool:
    from django.db import DatabaseError

    return isinstance(exc, DatabaseError | OSError)
