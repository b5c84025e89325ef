"""Errors of LLM calls, and how HTTP failures map to them. Messages never carry a response body."""

from __future__ import annotations

import email.utils
import time

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMCallError(RuntimeError):
    """A call failed for good. `kind`: auth, bad_request, rate_limited, server, timeout, connection,
    circuit_open, unsafe_url, bad_response. `status` is the HTTP status when there was one."""

    def __init__(self, kind: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


class LLMAuthError(LLMCallError):
    """401/403: the key is wrong or lacks access. Never retried; a run stops on it."""


class Retryable(Exception):
    def __init__(self, kind: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after


def chain_has(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        if isinstance(cur, kind):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def classify_status(exc) -> Exception:
    """Map an HTTP error to a retryable or final error; the response body is never included."""
    status = int(exc.status_code)
    if status in (401, 403):
        return LLMAuthError("auth", f"The LLM endpoint refused the API key (HTTP {status}).", status=status)
    if status in RETRYABLE_STATUS or status >= 500:
        kind = "rate_limited" if status == 429 else "server"
        retry_after = parse_retry_after(exc.response.headers.get("retry-after")) if status in (429, 503) else None
        return Retryable(kind, f"The LLM endpoint answered HTTP {status}.", status=status, retry_after=retry_after)
    return LLMCallError("bad_request", f"The LLM endpoint rejected the request (HTTP {status}).", status=status)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())
