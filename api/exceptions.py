"""Every API error is JSON of one shape: {"detail": "...", "errors": [{"field": ..., "message": ...}]}.

Service ValidationErrors (Django's) become 400 with each message listed; an import's messages name the
file, line and field just as the upload page shows them.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _flatten(detail, field: str | None = None) -> list[dict]:
    """DRF error detail (nested dicts and lists) as a flat list of {field, message}."""
    if isinstance(detail, dict):
        out: list[dict] = []
        for key, value in detail.items():
            name = None if key in ("non_field_errors", "__all__") else (f"{field}.{key}" if field else str(key))
            out.extend(_flatten(value, name if name is not None else field))
        return out
    if isinstance(detail, list):
        out = []
        for i, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            out.extend(_flatten(value, f"{field}.{i}" if nested and field else field))
        return out
    return [{"field": field, "message": str(detail)}]


def _from_django(exc: DjangoValidationError) -> list[dict]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": None if key == "__all__" else key, "message": message}
            for key, errors in exc.error_dict.items()
            for error in errors
            for message in error.messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


def error_body(errors: list[dict], detail: str | None = None) -> dict:
    """The JSON error body; `detail` defaults to the first message."""
    if detail is None:
        detail = errors[0]["message"] if len(errors) == 1 else f"{len(errors)} problems: {errors[0]['message']} …"
    return {"detail": detail, "errors": errors}


def exception_handler(exc, context) -> Response | None:
    """DRF's handler plus Django ValidationError -> 400, with every body in the one error shape."""
    if isinstance(exc, DjangoValidationError):
        errors = _from_django(exc) or [{"field": None, "message": "Invalid request."}]
        return Response(error_body(errors), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail) or [{"field": None, "message": "Invalid request."}]
        response.data = error_body(errors)
    else:
        data = response.data
        message = str(data.get("detail", "Error.")) if isinstance(data, dict) else str(data)
        response.data = error_body([{"field": None, "message": message}], detail=message)
    return response
