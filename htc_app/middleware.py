"""Cross-cutting HTTP behaviour: security headers, a clear 503 when SQLite stays locked, 507/503 on full or
read-only storage, and the API's JSON error shape for every error status under /api/."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.loader import render_to_string

from htc_app.storage_faults import storage_fault


def _error_response(request: HttpRequest, status: int, message: str, template: str, **context) -> HttpResponse:
    """The API's JSON error shape under /api/, an HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": [{"field": None, "message": message}]}, status=status)
    return HttpResponse(render_to_string(template, {"message": message, **context}, request=request), status=status)


class SecurityHeadersMiddleware:
    """Adds the Content-Security-Policy (no inline scripts or styles anywhere in htc)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.HTC_CSP)
        return response


class DatabaseBusyMiddleware:
    """Turns "database is locked" (SQLite, after the busy timeout) into a 503 with Retry-After.

    The request is never replayed: a POST that could not commit is reported, not repeated. Under /api/ the
    answer is JSON in the API's error shape ({"detail", "errors"}); elsewhere the HTML busy page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError) and "locked" in str(exception).lower():
            message = "The database is busy; try again in a few seconds."
            response = _error_response(request, 503, message, "busy.html")
            response["Retry-After"] = "5"
            return response
        return None


class StorageFullMiddleware:
    """A full disk (507) or a read-only filesystem (503) anywhere below a view answers in words, not 500.

    Writes are transactional, so nothing committed before is touched; upload files are removed by the code
    that wrote them. Under /api/ the body is the API's JSON error shape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        fault = storage_fault(exception)
        if fault is None:
            return None
        response = _error_response(request, fault.status, fault.message, "storage_error.html")
        if fault.status == 503:
            response["Retry-After"] = "60"
        return response


class ApiErrorShapeMiddleware:
    """Under /api/, an error answer that is not JSON yet (Django's CSRF failure page, a plain view's 405, any
    HTML error page) becomes the API's error shape with the same status and headers (Allow, Retry-After)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json") or response.streaming:
            return response
        message = API_ERROR_MESSAGES.get(response.status_code, f"{response.reason_phrase}.")
        shaped = JsonResponse({"detail": message, "errors": [{"field": None, "message": message}]})
        shaped.status_code = response.status_code
        for header in ("Allow", "Retry-After", "WWW-Authenticate", "Vary"):
            if response.has_header(header):
                shaped[header] = response[header]
        return shaped


API_ERROR_MESSAGES = {
    403: "Forbidden: the request was refused (for a signed-in browser session, a missing or wrong CSRF token).",
    405: "This method is not allowed on this route.",
}
