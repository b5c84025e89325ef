"""The error views (handler400/403/404/500): storage faults in words, and the API's JSON shape under /api/.

It runs for exceptions no view or middleware turned into a response, including those raised while a middleware
saves the session, so a full disk is reported as 507 on every route, not only inside views."""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults

from htc_app.storage_faults import storage_fault

SERVER_ERROR = "Something went wrong on the server. The error was logged; nothing saved before was lost."


def server_error(request: HttpRequest) -> HttpResponse:
    fault = storage_fault(sys.exc_info()[1])
    status, message = (fault.status, fault.message) if fault else (500, SERVER_ERROR)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "errors": [{"field": None, "message": message}]}, status=status)
    if fault is None:
        return HttpResponse(render_to_string("500.html"), status=500)
    response = HttpResponse(render_to_string("storage_error.html", {"message": message}), status=status)
    if status == 503:
        response["Retry-After"] = "60"
    return response


def _api_error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": message, "errors": [{"field": None, "message": message}]}, status=status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 raised before a view answers (too many fields or files, a malformed body): JSON under /api/."""
    if request.path.startswith("/api/"):
        message = str(exception) if str(exception) else "Bad request."
        return _api_error(400, f"Bad request: {message}")
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _api_error(403, "You do not have permission to perform this action.")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return _api_error(404, "Not found.")
    return defaults.page_not_found(request, exception)
