"""Cross-cutting HTTP behaviour: security headers and a clear 503 when SQLite stays locked."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


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
            if request.path.startswith("/api/"):
                # The API's error shape, so clients parse it like any other refusal.
                message = "The database is busy; try again in a few seconds."
                body = {"detail": message, "errors": [{"field": None, "message": message}]}
                response = JsonResponse(body, status=503)
            else:
                response = HttpResponse(render_to_string("busy.html", request=request), status=503)
            response["Retry-After"] = "5"
            return response
        return None
