"""Errors of LLM calls, and how HTTP failures map to them. Messages never carry a response body."""

from __future__ import annotations

import email.utils
import re
import time

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class LLMCallError(RuntimeError):
    """A call failed for good. `kind`: auth, bad_request, too_long, rate_limited, server, timeout, connection,
    circuit_open, unsafe_url, bad_response. `status` is the HTTP status when there was one."""

    def __init__(self, kind: str, message: str, *, status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


class StopsTheRun(LLMCallError):
    """A failure every further call of the run would repeat: the run stops at once, keeping what it received."""


class LLMAuthError(StopsTheRun):
    """401/403: the key is wrong or lacks access. Never retried; a run stops on it."""


class PromptTooLong(LLMCallError):
    """The endpoint said the prompt does not fit the model's context window (HTTP 400/413, OpenAI's and llama.cpp's
    code `context_length_exceeded` or the usual wording). Never retried, and not a sign of a failing endpoint.
    `context_tokens` / `prompt_tokens`: the numbers the endpoint gave (None when it gave none)."""

    def __init__(self, message: str, *, status: int | None, context_tokens: int | None, prompt_tokens: int | None):
        super().__init__("too_long", message, status=status)
        self.context_tokens = context_tokens
        self.prompt_tokens = prompt_tokens


class SharedPromptTooLong(StopsTheRun):
    """What every document's prompt shares (the label list, the examples) is alone longer than the model's context:
    every call would fail the same way, so the run stops at the first."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__("too_long", message, status=status)


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


#: How endpoints say a prompt is longer than the context: OpenAI, vLLM and llama-cpp-python ("maximum context
#: length"), llama.cpp's server ("exceeds the available context size"), others ("prompt is too long").
_CONTEXT_WORDS = re.compile(
    r"context[ _](length|window|size)|maximum context|prompt is too long|too many (input )?tokens", re.IGNORECASE
)
_WINDOW = (r"maximum context length is (\d+)", r"context window of (\d+)", r"context size of (\d+)")
_PROMPT = (
    r"\((\d+) in the messages",
    r"(\d+) in your prompt",
    r"requested tokens \((\d+)\)",
    r"requested (\d+) tokens",
)


def _first_number(patterns: tuple[str, ...], text: str) -> int | None:
    for pattern in patterns:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return int(found.group(1))
    return None


def context_overflow(exc) -> PromptTooLong | None:
    """A `PromptTooLong` when this HTTP error says the prompt exceeds the model's context, else None.

    Only the endpoint's numbers are kept from its body (context window, prompt tokens), never its text."""
    status = int(getattr(exc, "status_code", 0) or 0)
    if status not in (400, 413, 422):
        return None
    body = getattr(exc, "body", None)
    fields = body if isinstance(body, dict) else {}
    text = str(fields.get("message") or (body if isinstance(body, str) else "") or "")[:2000]
    code = str(getattr(exc, "code", None) or fields.get("code") or "")
    kind = str(fields.get("type") or "")
    if code != "context_length_exceeded" and kind != "exceed_context_size_error" and not _CONTEXT_WORDS.search(text):
        return None
    window = _whole(fields.get("n_ctx")) or _first_number(_WINDOW, text)
    prompt = _whole(fields.get("n_prompt_tokens")) or _first_number(_PROMPT, text)
    sizes = ""
    if window and prompt:
        sizes = f" ({prompt:,} tokens; the model takes {window:,})"
    elif window:
        sizes = f" (the model takes {window:,} tokens)"
    message = f"The prompt is longer than the model's context window{sizes} (HTTP {status})."
    return PromptTooLong(message, status=status, context_tokens=window, prompt_tokens=prompt)


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def classify_status(exc) -> Exception:
    """Map an HTTP error to a retryable or final error; the response body is never included."""
    too_long = context_overflow(exc)
    if too_long is not None:
        return too_long
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
