"""A guarded client for OpenAI-compatible chat endpoints (OpenAI, vLLM, llama.cpp server).

What it adds on top of the `openai` SDK (which runs with `max_retries=0`):
- the SSRF guard (`netguard.check_base_url`) before every request, connections pinned to the checked
  addresses, no redirects, and responses bounded in size (`max_response_bytes`);
- bounded retries (default 3) with exponential backoff that honours `Retry-After` on 429/503,
  retries on 5xx, timeouts and connection errors; 400/401/403/404/422 are never retried;
- a per-endpoint semaphore shared by every client of the same base URL (threads);
- a circuit breaker: after `breaker_threshold` consecutive failed calls, calls fail fast for
  `breaker_cooldown` seconds, then one trial call is let through;
- token counting from `usage`, cost = in * price_in / 1000 + out * price_out / 1000;
- a response cache keyed by (model, sha256(request)), in memory and optionally on disk;
- constrained answers via `response_format`: the format is chosen once per endpoint by a probe of
  `GET /models` (llama-cpp-python's server takes only `json_object` + schema and answers `json_schema`
  with HTTP 500; llama.cpp's own server, vLLM and OpenAI take `json_schema`), or fixed by the caller;
  an unknown server that rejects a format falls back once to the next (json_schema, json_object, text).

Errors never carry the response body (it may echo internal data); they carry a kind and a status.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from classifiers.engine.llm.bounded import DEFAULT_MAX_RESPONSE_BYTES, BoundedTransport, ResponseTooLarge
from classifiers.engine.llm.cache import ResponseCache
from classifiers.engine.llm.errors import (
    LLMAuthError,
    LLMCallError,
    PromptTooLong,
    Retryable,
    SharedPromptTooLong,
    StopsTheRun,
    chain_has,
    classify_status,
    context_overflow,
    parse_retry_after,
)
from classifiers.engine.llm.netguard import (
    UnsafeURLError,
    check_base_url,
    configured_allowed_hosts,
    pinned_network_backend,
)

__all__ = [
    "LLMAuthError",
    "LLMCallError",
    "LLMClient",
    "LLMResult",
    "PromptTooLong",
    "ServerProbe",
    "SharedPromptTooLong",
    "StopsTheRun",
    "cost_of",
    "format_for_models_listing",
    "parse_retry_after",
]

FORMAT_MODES = ("json_schema", "json_object", "text")
RESPONSE_FORMATS = ("auto", *FORMAT_MODES)  # what a caller may ask for; "auto" probes the server
KNOWN_SERVERS = ("llama-cpp-python", "llama.cpp", "vllm")


@dataclass(frozen=True)
class ServerProbe:
    """What `GET /models` told about an endpoint: which server it is and the format chosen for it."""

    server: str  # "llama-cpp-python", "llama.cpp", "vllm", "openai-compatible" or "unknown"
    format_mode: str
    models: tuple[str, ...] = ()


def format_for_models_listing(payload: Any) -> ServerProbe:
    """The server kind and structured-output format for a `GET /models` answer (a dict, as JSON).

    llama-cpp-python lists its models with `owned_by: "me"` and a `permissions` list; its request model
    accepts `response_format` types `text` and `json_object` (with a `schema`) only. llama.cpp's own
    server says `owned_by: "llamacpp"`, vLLM `"vllm"`; both, like OpenAI, take `json_schema`."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return ServerProbe("unknown", FORMAT_MODES[0])
    models = tuple(str(m.get("id", "")) for m in data if isinstance(m, dict))
    owners = {str(m.get("owned_by", "")).lower() for m in data if isinstance(m, dict)}
    if "me" in owners and all(isinstance(m, dict) and "permissions" in m for m in data):
        return ServerProbe("llama-cpp-python", "json_object", models)
    if "llamacpp" in owners:
        return ServerProbe("llama.cpp", "json_schema", models)
    if "vllm" in owners:
        return ServerProbe("vllm", "json_schema", models)
    return ServerProbe("openai-compatible", "json_schema", models)


@dataclass
class LLMResult:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    attempts: int = 1
    format_mode: str = "text"
    finish_reason: str = ""
    model: str = ""  # the model the server says answered (the response's `model` field), "" when it names none


@dataclass
class Usage:
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self, price_in_per_1k: float = 0.0, price_out_per_1k: float = 0.0) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "failures": self.failures,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": cost_of(self.prompt_tokens, self.completion_tokens, price_in_per_1k, price_out_per_1k),
        }


def cost_of(prompt_tokens: int, completion_tokens: int, price_in_per_1k: float, price_out_per_1k: float) -> float:
    """Cost of a number of tokens at per-1000-token prices."""
    return prompt_tokens * float(price_in_per_1k) / 1000 + completion_tokens * float(price_out_per_1k) / 1000


_SEMAPHORES: dict[str, threading.BoundedSemaphore] = {}
_KNOWN_FORMATS: dict[tuple[str, str], str] = {}  # (base URL, model) -> response_format mode that worked
_PROBES: dict[str, ServerProbe] = {}  # base URL -> what its /models said (probed once per process)
_SEMAPHORES_LOCK = threading.Lock()


def endpoint_semaphore(base_url: str, concurrency: int) -> threading.BoundedSemaphore:
    """The process-wide semaphore of an endpoint (first caller fixes its size)."""
    key = base_url.rstrip("/").lower()
    with _SEMAPHORES_LOCK:
        sem = _SEMAPHORES.get(key)
        if sem is None:
            sem = _SEMAPHORES[key] = threading.BoundedSemaphore(max(1, int(concurrency)))
        return sem


class LLMClient:
    """Chat completions against one endpoint. Thread-safe; share one instance across worker threads."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        concurrency: int = 2,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        price_in_per_1k: float = 0.0,
        price_out_per_1k: float = 0.0,
        allowed_hosts: Iterable[str] | None = None,
        cache_dir: str | FsPath | None = None,
        use_cache: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        response_format: str = "auto",
    ):
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, not {response_format!r}")
        self.base_url = base_url
        self.response_format = response_format
        self.model = model
        self.timeout = float(timeout)
        self.max_response_bytes = int(max_response_bytes)
        self.max_retries = max(0, min(int(max_retries), 3))
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.breaker_threshold = max(1, int(breaker_threshold))
        self.breaker_cooldown = breaker_cooldown
        self.price_in_per_1k = float(price_in_per_1k or 0)
        self.price_out_per_1k = float(price_out_per_1k or 0)
        self.allowed_hosts = list(allowed_hosts) if allowed_hosts is not None else configured_allowed_hosts()
        self.cache = ResponseCache(cache_dir, enabled=use_cache)
        self.usage = Usage()
        self._sleep = sleep
        self._semaphore = endpoint_semaphore(base_url, concurrency)
        self._endpoint_key = (base_url.rstrip("/").lower(), model)
        # A fixed format is used as it is; "auto" takes a format this endpoint accepted before (another
        # client in this process), else probes the server before the first structured call.
        if response_format != "auto":
            self._format_mode, self._format_confirmed, self._probed = response_format, True, True
        else:
            self._format_mode = _KNOWN_FORMATS.get(self._endpoint_key, FORMAT_MODES[0])
            self._format_confirmed = self._endpoint_key in _KNOWN_FORMATS
            self._probed = self._format_confirmed
        self._state_lock = threading.Lock()
        self._consecutive_failures = 0
        self._open_until = 0.0
        check_base_url(base_url, allowed_hosts=self.allowed_hosts)  # save-time style check, fail early
        self._sdk = self._make_sdk(api_key)

    def _make_sdk(self, api_key: str | None):
        import openai

        try:
            import httpx2 as httpx_mod
        except ImportError:  # older openai SDKs use httpx
            import httpx as httpx_mod

        def guard(request) -> None:
            # Checked again at call time: DNS may have changed since the endpoint was saved.
            check_base_url(str(request.url), allowed_hosts=self.allowed_hosts)

        transport = httpx_mod.HTTPTransport(trust_env=False)
        # Connect only to addresses the guard checked (anti-rebinding). The pool is httpcore's; fail loudly
        # rather than run unpinned if a library update renames the attribute.
        if not hasattr(transport._pool, "_network_backend"):
            raise RuntimeError("Cannot pin LLM connections: unexpected httpx transport internals.")
        transport._pool._network_backend = pinned_network_backend(self.allowed_hosts)
        http_client = httpx_mod.Client(
            follow_redirects=False,
            timeout=self.timeout,
            event_hooks={"request": [guard]},
            trust_env=False,
            transport=BoundedTransport(transport, self.max_response_bytes),
        )
        # A local server needs no key, but the SDK insists on one; the placeholder is not a secret.
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or "not-needed",
            timeout=self.timeout,
            max_retries=0,
            http_client=http_client,
        )

    def close(self) -> None:
        self._sdk.close()

    # ----- public -----
    def probe(self) -> ServerProbe:
        """Ask the server what it is (`GET /models`, one bounded call, no retries) and choose the
        structured-output format for it. Raises `LLMCallError` when the server does not answer."""
        import openai

        self._check_breaker()
        try:
            with self._semaphore:
                raw = self._sdk.models.with_raw_response.list()
            payload = raw.http_response.json()
        except UnsafeURLError as exc:
            raise LLMCallError("unsafe_url", str(exc)) from None
        except openai.APIStatusError as exc:
            raise _final(classify_status(exc)) from None
        except openai.APIConnectionError as exc:  # timeouts included
            raise _final(self._transport_error(exc)) from None
        except (openai.APIError, ValueError):
            payload = None
        result = format_for_models_listing(payload)
        _PROBES[self._endpoint_key[0]] = result
        return result

    def _ensure_probed(self) -> None:
        """Once per endpoint and process: pick the format from the server's own description.

        A server that cannot be probed (no /models, an error) keeps the fallback order; a dead server
        is left for the real call to report."""
        if self._probed:
            return
        found = _PROBES.get(self._endpoint_key[0])
        if found is None:
            try:
                found = self.probe()
            except LLMCallError:
                found = None
        with self._state_lock:
            if not self._probed:
                if found is not None and found.server != "unknown" and not self._format_confirmed:
                    self._format_mode = found.format_mode
                    # A server we recognise documents its format: a 5xx then is a fault, not a refusal.
                    self._format_confirmed = found.server in KNOWN_SERVERS
                self._probed = True

    def usage_dict(self) -> dict[str, Any]:
        return self.usage.as_dict(self.price_in_per_1k, self.price_out_per_1k)

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 64,
        temperature: float = 0.0,
        seed: int | None = None,
    ) -> LLMResult:
        """One chat completion, with cache, breaker, semaphore and retries. Raises `LLMCallError`."""
        request = {"messages": messages, "schema": schema, "max_tokens": max_tokens, "temperature": temperature}
        key = ResponseCache.key(self.model, request)
        hit = self.cache.get(key)
        if hit is not None:
            with self.usage._lock:
                self.usage.cache_hits += 1
            return LLMResult(
                text=hit["text"],
                prompt_tokens=hit.get("prompt_tokens", 0),
                completion_tokens=hit.get("completion_tokens", 0),
                cached=True,
                format_mode=hit.get("format_mode", "text"),
                finish_reason=hit.get("finish_reason", ""),
            )
        self._check_breaker()
        try:
            result = self._complete_with_retries(messages, schema, max_tokens, temperature, seed)
        except LLMCallError as exc:
            self._record_failure(exc)
            raise
        self._record_success(result)
        self.cache.put(
            key,
            {
                "text": result.text,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "format_mode": result.format_mode,
                "finish_reason": result.finish_reason,
            },
        )
        return result

    # ----- retries -----
    def _complete_with_retries(self, messages, schema, max_tokens, temperature, seed) -> LLMResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._complete_once(messages, schema, max_tokens, temperature, seed)
                result.attempts = attempt
                return result
            except Retryable as exc:
                if attempt > self.max_retries:
                    raise LLMCallError(exc.kind, exc.message, status=exc.status) from None
                with self.usage._lock:
                    self.usage.retries += 1
                self._sleep(self._backoff(attempt, exc.retry_after))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(0.0, retry_after), self.max_backoff)
        delay = self.backoff_base * (2 ** (attempt - 1))
        return min(delay * (0.5 + random.random() / 2), self.max_backoff)

    def _complete_once(self, messages, schema, max_tokens, temperature, seed) -> LLMResult:
        import openai

        if schema is not None:
            self._ensure_probed()
        probed_from: str | None = None
        while True:
            mode = self._format_mode if schema is not None else "text"
            kwargs: dict[str, Any] = {
                "model": self.model,
                "messages": messages,
                "max_tokens": int(max_tokens),
                "temperature": float(temperature),
            }
            if seed is not None:
                kwargs["seed"] = int(seed)
            if mode == "json_schema":
                kwargs["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "strict": True, "schema": schema},
                }
            elif mode == "json_object":
                kwargs["response_format"] = {"type": "json_object", "schema": schema}
            try:
                with self._semaphore:
                    response = self._sdk.chat.completions.create(**kwargs)
            except UnsafeURLError as exc:
                raise LLMCallError("unsafe_url", str(exc)) from None
            except ResponseTooLarge:
                raise self._too_large() from None
            except openai.APIStatusError as exc:
                status = exc.status_code
                too_long = context_overflow(exc)
                if too_long is not None:
                    raise too_long from None  # the same prompt is as long in every format: not a format problem
                # A server that does not take a response_format says 400/422, or (llama-cpp-python) 500:
                # fall back to the next format. A 5xx only counts until a structured format has worked.
                if mode != "text" and (status in (400, 422) or (status >= 500 and not self._format_confirmed)):
                    if status >= 500 and probed_from is None:
                        probed_from = mode
                    self._downgrade_format(mode)
                    continue
                if probed_from is not None and status >= 500:
                    self._restore_format(probed_from)  # it fails whatever the format: not a format problem
                raise classify_status(exc) from None
            except openai.APIConnectionError as exc:  # timeouts included
                raise self._transport_error(exc) from None
            except (openai.APIError, ValueError):
                # A body that is not a chat completion (bad JSON, wrong shape): treat as a server fault.
                raise Retryable("bad_response", "The LLM endpoint returned an unreadable response.") from None
            if mode != "text":
                self._format_confirmed = True
                _KNOWN_FORMATS[self._endpoint_key] = mode
            return _result_from(response, mode)

    def _transport_error(self, exc) -> Exception:
        """What a failed connection means: final when the SSRF guard refused it or the body was too large,
        else retryable (a timeout or a connection that could not be made)."""
        import openai

        if isinstance(exc, openai.APITimeoutError):
            return Retryable("timeout", f"The LLM endpoint did not answer within {self.timeout:g} s.")
        if chain_has(exc, UnsafeURLError):
            return LLMCallError("unsafe_url", "The base URL was refused by the SSRF guard.")
        if chain_has(exc, ResponseTooLarge):
            return self._too_large()
        return Retryable("connection", "Could not connect to the LLM endpoint.")

    def _too_large(self) -> LLMCallError:
        return LLMCallError(
            "too_large", f"The LLM endpoint's response is larger than {self.max_response_bytes:,} bytes."
        )

    def _downgrade_format(self, mode: str) -> None:
        with self._state_lock:
            if self._format_mode == mode:
                self._format_mode = FORMAT_MODES[FORMAT_MODES.index(mode) + 1]

    def _restore_format(self, mode: str) -> None:
        with self._state_lock:
            if not self._format_confirmed:
                self._format_mode = mode

    # ----- circuit breaker -----
    def _check_breaker(self) -> None:
        with self._state_lock:
            if self._consecutive_failures >= self.breaker_threshold:
                now = time.monotonic()
                if now < self._open_until:
                    raise LLMCallError(
                        "circuit_open",
                        f"The LLM endpoint failed {self._consecutive_failures} times in a row; paused.",
                    )
                # Half-open: let this call through; one more failure re-opens for a full cooldown.
                self._open_until = now + self.breaker_cooldown

    def _record_failure(self, exc: LLMCallError) -> None:
        with self.usage._lock:
            self.usage.failures += 1
        if exc.kind in ("circuit_open", "too_long"):  # a prompt too long for the model says nothing of its health
            return
        with self._state_lock:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self.breaker_threshold:
                self._open_until = time.monotonic() + self.breaker_cooldown

    def _record_success(self, result: LLMResult) -> None:
        with self._state_lock:
            self._consecutive_failures = 0
        with self.usage._lock:
            self.usage.calls += 1
            self.usage.prompt_tokens += result.prompt_tokens
            self.usage.completion_tokens += result.completion_tokens

    @property
    def breaker_open(self) -> bool:
        with self._state_lock:
            return self._consecutive_failures >= self.breaker_threshold and time.monotonic() < self._open_until


def _final(error: Exception) -> Exception:
    """A retryable error as a final one (for calls that are never retried, like the probe)."""
    if isinstance(error, Retryable):
        return LLMCallError(error.kind, error.message, status=error.status)
    return error


def _result_from(response, mode: str) -> LLMResult:
    try:
        choice = response.choices[0]
        text = choice.message.content or ""
        finish_reason = str(getattr(choice, "finish_reason", "") or "")
    except (AttributeError, IndexError, TypeError):
        raise LLMCallError("bad_response", "The LLM endpoint returned no answer.") from None
    usage = getattr(response, "usage", None)
    return LLMResult(
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        format_mode=mode,
        finish_reason=finish_reason,
        model=str(getattr(response, "model", "") or "")[:200],
    )
