"""Query parameters: one declaration per route gives both the parsing and the OpenAPI parameters.

A route's `QuerySpec` subclass lists its parameters (`Int`, `Bool`, `Choice`, `Text`, `Ordering`);
`@query(Spec)` on the view method parses them before the method runs (every bad value is one 400 naming its
field) and hands the values over as `query`; the schema class reads the same declaration (api/schema.py).

A user string is never used as an ORM lookup or an order_by field (the Label Studio "ORM leak" lesson): a
filter's `lookup` is named in the code, and `?ordering=` must be one of the route's public names (optionally
with "-"), otherwise the request is refused with 400 and the list of allowed values.
"""

from __future__ import annotations

import functools

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from htc_app.params import id_param

MAX_TEXT_QUERY = 200


class Param:
    """One query parameter: `parse` reads a non-empty raw value (ValueError: the 400's message)."""

    type = OpenApiTypes.STR
    name = ""

    def __init__(self, description: str, *, lookup: str | None = None, default=None):
        self.description, self.lookup, self.default = description, lookup, default

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def parse(self, raw: str):
        return raw

    def parameter(self) -> OpenApiParameter:
        enum = {"enum": self.values()} if hasattr(self, "values") else {}
        return OpenApiParameter(self.name, self.type, description=self.description, **enum)


class Int(Param):
    """A positive integer in ASCII digits ('²' and other scripts' digits are refused, not a 500)."""

    type = OpenApiTypes.INT

    def parse(self, raw: str) -> int:
        number = id_param(raw)
        if number is None:
            raise ValueError(f"{self.name} must be a positive integer.")
        return number


class Bool(Param):
    """true/false (also 1/0, yes/no)."""

    type = OpenApiTypes.BOOL

    def parse(self, raw: str) -> bool:
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"{self.name} must be true or false.")


class Choice(Param):
    """One of `choices` (a list, or a function giving it when asked)."""

    def __init__(self, choices, description: str, **kwargs):
        super().__init__(description, **kwargs)
        self.choices = choices

    def values(self) -> list[str]:
        return list(self.choices() if callable(self.choices) else self.choices)

    def parse(self, raw: str) -> str:
        if raw not in self.values():
            raise ValueError(f"Unknown {self.name} {raw[:50]!r}; use one of {', '.join(self.values())}.")
        return raw


class Text(Param):
    """A free-text search string: trimmed, at most MAX_TEXT_QUERY characters, no NUL (PostgreSQL refuses it)."""

    def __init__(self, description: str, **kwargs):
        super().__init__(description, default="", **kwargs)

    def parse(self, raw: str) -> str:
        if "\x00" in raw:
            raise ValueError(f"{self.name} must not contain NUL characters.")
        return raw.strip()[:MAX_TEXT_QUERY]


class Ordering(Param):
    """?ordering=: a public name of `allowed` (name -> ORM fields), "-" for descending; `default` when absent."""

    def __init__(self, allowed: dict[str, list[str]], default: str):
        super().__init__(f"Sort order (default {default}); any other value is refused with 400.")
        self.allowed = allowed
        self.default = self.parse(default)

    def values(self) -> list[str]:
        return [v for name in self.allowed for v in (name, f"-{name}")]

    def parse(self, raw: str) -> list[str]:
        value = raw.strip()
        name = value.removeprefix("-")
        if name not in self.allowed:
            raise ValueError(f"Unknown ordering {value[:50]!r}; use one of {', '.join(self.values())}.")
        if not value.startswith("-"):
            return list(self.allowed[name])
        return [f[1:] if f.startswith("-") else f"-{f}" for f in self.allowed[name]]


class QuerySpec:
    """A route's query parameters, declared as class attributes; an instance holds the parsed values."""

    @classmethod
    def params(cls) -> list[Param]:
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            found.update({name: p for name, p in vars(klass).items() if isinstance(p, Param)})
        return list(found.values())

    @classmethod
    def parameters(cls) -> list[OpenApiParameter]:
        return [p.parameter() for p in cls.params()]

    def __init__(self, query_params):
        errors: dict[str, str] = {}
        for param in self.params():
            raw = query_params.get(param.name)
            try:
                value = param.default if raw in (None, "") else param.parse(raw)
            except ValueError as exc:
                errors[param.name], value = str(exc), None
            setattr(self, param.name, value)
        if errors:
            raise ValidationError(errors)

    def filter(self, queryset):
        """`queryset` filtered by every given parameter that names a `lookup`, in `ordering` when declared."""
        for param in self.params():
            value = getattr(self, param.name)
            if param.lookup and value not in (None, ""):
                queryset = queryset.filter(**{param.lookup: value})
        ordering = getattr(self, "ordering", None)
        return queryset.order_by(*ordering) if isinstance(ordering, list) else queryset


def query(spec: type[QuerySpec]):
    """View-method decorator: parse `spec` from the query string into the `query` argument (400 when invalid);
    the schema publishes the same parameters (`query_spec`, read by api.schema.ApiAutoSchema)."""

    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, request, *args, **kwargs):
            return method(self, request, *args, query=spec(request.query_params), **kwargs)

        wrapper.query_spec = spec
        return wrapper

    return decorate
