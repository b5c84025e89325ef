"""Writes of a project's LLM endpoint, and `endpoint_client_kwargs`, what an LLM client or strategy is given.

The API key is encrypted before it touches the database, is never logged, and leaves this module only through
`endpoint_client_kwargs` (`classifiers.strategies.apply_endpoint` hands it to a strategy), at run time, in memory.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from classifiers.engine.llm.netguard import UnsafeURLError, check_base_url
from classifiers.engine.llm.prompts import DEFAULT_TEMPLATES, PLACEHOLDERS, unknown_placeholders
from endpoints.crypto import decrypt_secret, encrypt_secret
from endpoints.models import LLMEndpoint
from endpoints.selectors import endpoint_for_project
from projects.models import Membership, Role

TEMPLATE_KEYS = tuple(DEFAULT_TEMPLATES)
MAX_TEMPLATE_CHARS = 20_000
MAX_CONCURRENCY = 32


def _require_owner(project, actor) -> None:
    membership = Membership.objects.filter(project=project, user=actor).first()
    if membership is None or not membership.has_role(Role.OWNER):
        raise PermissionDenied("Only project owners may change the LLM endpoint.")


def validate_base_url(base_url: str) -> str:
    """The URL, stripped, if the SSRF guard accepts it; a ValidationError on the field otherwise."""
    url = (base_url or "").strip()
    try:
        check_base_url(url, allowed_hosts=settings.HTC_LLM_ALLOWED_HOSTS)
    except UnsafeURLError as exc:
        raise ValidationError({"base_url": str(exc)}) from None
    return url.rstrip("/")


def validate_templates(templates: dict[str, Any] | None) -> dict[str, str]:
    """Only known keys, text, bounded length, known placeholders, and `{document}` in each user template."""
    clean: dict[str, str] = {}
    errors: list[str] = []
    for key, value in (templates or {}).items():
        if key not in TEMPLATE_KEYS:
            errors.append(f"Unknown template {key!r}.")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # empty: use the default
        if not isinstance(value, str):
            errors.append(f"The {key} template must be text.")
            continue
        if len(value) > MAX_TEMPLATE_CHARS:
            errors.append(f"The {key} template is longer than {MAX_TEMPLATE_CHARS} characters.")
        unknown = unknown_placeholders(value)
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            errors.append(f"The {key} template uses unknown placeholders {unknown}; allowed: {allowed}.")
        if key != "system" and "{document}" not in value:
            errors.append(f"The {key} template must contain {{document}}.")
        clean[key] = value
    if errors:
        raise ValidationError({"templates": errors})
    return clean


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value if value not in (None, "") else 0))
    except InvalidOperation:
        raise ValidationError({field: "Enter a number."}) from None
    if number < 0 or not number.is_finite():
        raise ValidationError({field: "Enter a price of 0 or more."})
    return number


@transaction.atomic
def endpoint_save(
    *,
    project,
    actor,
    base_url: str,
    model: str,
    api_key: str | None = None,
    clear_api_key: bool = False,
    price_in_per_1k: Any = 0,
    price_out_per_1k: Any = 0,
    concurrency: int = 2,
    timeout: float = 60.0,
    templates: dict[str, Any] | None = None,
) -> LLMEndpoint:
    """Create or update the project's endpoint and return it. `api_key=None` (or empty) keeps the stored key."""
    _require_owner(project, actor)
    url = validate_base_url(base_url)
    model = (model or "").strip()
    if not model or len(model) > 200:
        raise ValidationError({"model": "Enter the model name (at most 200 characters)."})
    if not 1 <= int(concurrency) <= MAX_CONCURRENCY:
        raise ValidationError({"concurrency": f"Choose between 1 and {MAX_CONCURRENCY} parallel requests."})
    if not 1 <= float(timeout) <= 600:
        raise ValidationError({"timeout": "Choose a timeout between 1 and 600 seconds."})
    clean_templates = validate_templates(templates)
    endpoint = LLMEndpoint.objects.select_for_update().filter(project=project).first() or LLMEndpoint(project=project)
    endpoint.base_url = url
    endpoint.model = model
    endpoint.price_in_per_1k = _decimal(price_in_per_1k, "price_in_per_1k")
    endpoint.price_out_per_1k = _decimal(price_out_per_1k, "price_out_per_1k")
    endpoint.concurrency = int(concurrency)
    endpoint.timeout = float(timeout)
    endpoint.templates = clean_templates
    endpoint.updated_by = actor
    if clear_api_key:
        endpoint.api_key_encrypted = ""
        endpoint.api_key_last4 = ""
    elif api_key and api_key.strip():
        key = api_key.strip()
        if len(key) > 4096 or any(ord(ch) < 33 for ch in key):
            raise ValidationError({"api_key": "The API key contains spaces or control characters."})
        endpoint.api_key_encrypted = encrypt_secret(key)
        endpoint.api_key_last4 = key[-4:] if len(key) >= 8 else ""
    endpoint.full_clean(exclude=["project", "api_key_encrypted"])
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_reset(*, project, actor) -> None:
    """Forget the project's endpoint (and its key): it goes back to the local default server."""
    _require_owner(project, actor)
    LLMEndpoint.objects.filter(project=project).delete()


def endpoint_client_kwargs(project) -> dict[str, Any]:
    """What an LLM client needs for this project, key decrypted, for use at predict time only.

    Keys: base_url, model, api_key, timeout, concurrency, price_in_per_1k, price_out_per_1k,
    templates (overrides), allowed_hosts. Defaults to the local server from the settings."""
    endpoint = endpoint_for_project(project=project)
    common = {"allowed_hosts": list(settings.HTC_LLM_ALLOWED_HOSTS)}
    if endpoint is None:
        return {
            "base_url": settings.HTC_LLM_BASE_URL,
            "model": settings.HTC_LLM_MODEL,
            "api_key": "",
            "timeout": 60.0,
            "concurrency": 2,
            "price_in_per_1k": 0.0,
            "price_out_per_1k": 0.0,
            "templates": {},
            **common,
        }
    return {
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "api_key": decrypt_secret(endpoint.api_key_encrypted) if endpoint.api_key_encrypted else "",
        "timeout": float(endpoint.timeout),
        "concurrency": int(endpoint.concurrency),
        "price_in_per_1k": float(endpoint.price_in_per_1k),
        "price_out_per_1k": float(endpoint.price_out_per_1k),
        "templates": dict(endpoint.templates or {}),
        **common,
    }


TEST_TIMEOUT_SECONDS = 15.0
TEST_SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
}


def endpoint_test(*, project) -> dict[str, Any]:
    """One bounded call to the project's endpoint (no retry, no cache, each request at most TEST_TIMEOUT_SECONDS),
    after asking the server what it serves (`GET /models`, bounded too).

    Returns {"ok", "base_url", "model" (configured), "server_model" (the model the server says answered: the
    response's `model` field, else the first one `GET /models` lists; "" when it names none), "listed_models",
    "server" (the server kind the listing shows), "format" (the response format the client chose), "latency_ms",
    "answer" (the first 200 characters), "prompt_tokens", "completion_tokens"} or, when the call failed,
    {"ok": False, "base_url", "model", "error" (kind and message, never the response body), "latency_ms"}."""
    import time

    from classifiers.engine.llm.client import LLMCallError, LLMClient
    from classifiers.engine.llm.netguard import UnsafeURLError

    kwargs = endpoint_client_kwargs(project)
    kwargs.pop("templates", None)
    kwargs["timeout"] = min(float(kwargs.get("timeout") or TEST_TIMEOUT_SECONDS), TEST_TIMEOUT_SECONDS)
    outcome: dict[str, Any] = {"base_url": kwargs["base_url"], "model": kwargs["model"]}
    started = time.monotonic()
    try:
        client = LLMClient(**kwargs, max_retries=0, use_cache=False, breaker_threshold=1)
        try:
            listing = client.probe()
        except LLMCallError as exc:
            if exc.kind in ("timeout", "connection", "unsafe_url", "auth"):
                raise  # the server is not there (or refuses us): no second wait on the chat call
            listing = None  # no model list (some servers have none): the chat call still tells
        result = client.complete(
            [
                {"role": "system", "content": 'Answer in JSON: {"answer": "..."}.'},
                {"role": "user", "content": "Say OK."},
            ],
            schema=TEST_SCHEMA,
            max_tokens=16,
            temperature=0.0,
        )
    except (LLMCallError, UnsafeURLError, ValueError, OSError) as exc:
        kind = getattr(exc, "kind", type(exc).__name__)
        outcome.update(ok=False, error=f"{kind}: {exc}"[:300])
    else:
        listed = [m for m in (listing.models if listing is not None else ()) if m][:5]
        outcome.update(
            ok=True,
            server_model=result.model or (listed[0] if listed else ""),
            listed_models=listed,
            server=listing.server if listing is not None and listing.server != "unknown" else "",
            format=result.format_mode,
            answer=(result.text or "")[:200],
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
        )
    outcome["latency_ms"] = round(1000 * (time.monotonic() - started))
    return outcome
