"""Query parameters parsed explicitly: filters and orderings come from allow-lists, never from user strings.

A user string is never used as an ORM lookup or an order_by field (the Label Studio "ORM leak" lesson):
`?ordering=` must be one of the view's public names (optionally with "-"), otherwise the request is refused
with 400 and the list of allowed values.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from htc_app.params import id_param

MAX_TEXT_QUERY = 200


def ordering_values(allowed: dict[str, list[str]]) -> list[str]:
    """Every accepted ?ordering= value: each public name, ascending and descending."""
    return [v for name in allowed for v in (name, f"-{name}")]


def ordering_from(request, allowed: dict[str, list[str]], default: str) -> list[str]:
    """The ORM order_by fields for ?ordering= (default when absent). Raises ValidationError for other values."""
    value = (request.query_params.get("ordering") or default).strip()
    descending = value.startswith("-")
    name = value.removeprefix("-")
    if name not in allowed:
        raise ValidationError(
            {"ordering": f"Unknown ordering {value[:50]!r}; use one of {', '.join(ordering_values(allowed))}."}
        )
    fields = allowed[name]
    if not descending:
        return list(fields)
    return [f[1:] if f.startswith("-") else f"-{f}" for f in fields]


def int_param(request, name: str) -> int | None:
    """A positive integer query parameter, or None when absent. Raises ValidationError otherwise."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    number = id_param(raw)  # ASCII digits only: '²' and other scripts' digits are refused, not a 500
    if number is None:
        raise ValidationError({name: f"{name} must be a positive integer."})
    return number


def choice_param(request, name: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """One of `choices`, or None when absent. Raises ValidationError for another value."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    if raw not in choices:
        raise ValidationError({name: f"Unknown {name} {raw[:50]!r}; use one of {', '.join(choices)}."})
    return raw


def bool_param(request, name: str) -> bool | None:
    """true/false (also 1/0, yes/no), or None when absent."""
    raw = (request.query_params.get(name) or "").lower()
    if raw == "":
        return None
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ValidationError({name: f"{name} must be true or false."})


def text_param(request, name: str) -> str:
    """A free-text search string (trimmed, at most MAX_TEXT_QUERY characters); '' when absent."""
    value = (request.query_params.get(name) or "").strip()[:MAX_TEXT_QUERY]
    if "\x00" in value:  # PostgreSQL cannot compare with a NUL character
        raise ValidationError({name: f"{name} must not contain NUL characters."})
    return value


# ----- OpenAPI descriptions of the same parameters -----
def ordering_parameter(allowed: dict[str, list[str]], default: str) -> OpenApiParameter:
    return OpenApiParameter(
        "ordering",
        OpenApiTypes.STR,
        enum=ordering_values(allowed),
        description=f"Sort order (default {default}); any other value is refused with 400.",
    )


def int_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.INT, description=description)


def choice_parameter(name: str, choices, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, enum=list(choices), description=description)


def bool_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.BOOL, description=description)


def text_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description=description)
