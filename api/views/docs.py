"""A server-rendered API reference at /api/docs/: no inline script or style, so it passes the strict CSP.

drf-spectacular's Swagger UI and Redoc pages carry an inline <style> block and an inline <script> (Swagger's
split view moves only the script out), which `script-src 'self'; style-src 'self'` forbids. This page lists the
operations of the same OpenAPI schema instead and links the schema for tools (openapi-generator, schemathesis).
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView

METHODS = ("get", "post", "put", "patch", "delete")


@lru_cache(maxsize=1)
def _operations() -> list[dict]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    rows = []
    for path, operations in schema["paths"].items():
        for method in METHODS:
            op = operations.get(method)
            if op is None:
                continue
            params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "query": [(p["name"], p.get("description", "")) for p in params],
                    "codes": sorted(op.get("responses", {})),
                }
            )
    return rows


@require_safe
def api_docs(request: HttpRequest) -> HttpResponse:
    """The list of API operations, grouped by resource."""
    groups: dict[str, list[dict]] = {}
    for row in _operations():
        groups.setdefault(row["tag"], []).append(row)
    return render(request, "api/docs.html", {"groups": sorted(groups.items())})


@csrf_exempt  # it changes nothing; without this an unsafe request would get Django's HTML CSRF page instead
def api_not_found(request: HttpRequest) -> JsonResponse:
    """404 for any path under /api/ that names no route, in the API's error shape."""
    from api.exceptions import error_body

    message = "No such API route." if request.path.endswith("/") else "No such API route (API paths end with a slash)."
    return JsonResponse(error_body([{"field": None, "message": message}]), status=404)


class TextYamlRenderer(OpenApiYamlRenderer):
    """The schema's YAML as text/plain: a browser shows it instead of downloading a file."""

    media_type = "text/plain"
    charset = "utf-8"


class SchemaView(SpectacularAPIView):
    """GET /api/schema/: YAML shown as text in a browser, `?format=json` (or `Accept: application/json`) for
    JSON, `?download=1` saves either as a file (htc-openapi.yaml or .json)."""

    renderer_classes = [
        TextYamlRenderer,
        OpenApiYamlRenderer,
        OpenApiYamlRenderer2,
        OpenApiJsonRenderer2,  # application/json first: a browser shows it
        OpenApiJsonRenderer,
    ]

    def perform_content_negotiation(self, request, force=False):
        # ?format=json|yaml (DRF's own format override is off: ?format= is the taxonomy export's parameter).
        wanted = request.query_params.get("format")
        for renderer in self.get_renderers():
            if wanted and renderer.format == wanted:
                return renderer, renderer.media_type
        return super().perform_content_negotiation(request, force)

    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        if request.query_params.get("download") in ("1", "true", "yes"):
            renderer = getattr(request, "accepted_renderer", None)
            extension = "json" if getattr(renderer, "format", "") == "json" else "yaml"
            response["Content-Disposition"] = f'attachment; filename="htc-openapi.{extension}"'
        return response
