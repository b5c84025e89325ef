"""OpenAPI details drf-spectacular cannot infer: the token scheme and the error responses of every operation."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: every problem is listed in `errors`.",
    "401": "Not authenticated (no, unknown or revoked token; no session).",
    "403": "Your role in this project is too low (or CSRF check failed for a session).",
    "404": "No such object in a project you are a member of.",
    "413": "The upload is larger than the limit.",
    "415": "The request body's content type is not one this operation accepts.",
    "429": "Too many failed sign-ins from your address (or tokens created this hour): try again later.",
    "503": "The database is busy or the storage is read-only: nothing was saved; try again later.",
    "507": "The server's disk is full: nothing was saved.",
}


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token: `Authorization: Bearer htc_…` (create one at /api/v1/tokens/ "
            "or with `manage.py htc_api_token`).",
        }


def add_error_responses(result: dict, generator, request, public) -> dict:
    """Postprocessing hook: document 400/401/403/404/429/503 (415 and 507 with a body, 413 on uploads) with the
    Error body."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Error",
        {
            "type": "object",
            "properties": {
                "detail": {"type": "string"},
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string", "nullable": True}, "message": {"type": "string"}},
                        "required": ["field", "message"],
                    },
                },
            },
            "required": ["detail", "errors"],
        },
    )
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            codes = ["400", "401", "403", "404", "429", "503"]
            if "requestBody" in operation:
                codes += ["415", "507"]
            if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                codes.append("413")
            for code in codes:
                responses.setdefault(
                    code,
                    {
                        "description": ERROR_DESCRIPTIONS[code],
                        "content": {"application/json": {"schema": ERROR_REF}},
                    },
                )
    return result


class ApiAutoSchema(AutoSchema):
    """Tags operations by resource (taxonomy, corpora, runs, ...), not by the common /projects/ prefix, lists each
    method's declared query parameters, and takes descriptions only from `extend_schema(description=...)`:
    docstrings are notes for developers (how a base class resolves the project, which role it checks) and are not
    the reference's to publish."""

    def get_description(self) -> str:
        return ""

    def get_override_parameters(self) -> list:
        """The method's `@query(Spec)` parameters (api/params.py): declared once, parsed and published alike."""
        spec = getattr(getattr(self.view, self.method.lower(), None), "query_spec", None)
        return [*super().get_override_parameters(), *(spec.parameters() if spec else [])]

    def get_tags(self) -> list[str]:
        parts = [p for p in self.path.split("/") if p and not p.startswith("{")]
        parts = parts[parts.index("v1") + 1 :] if "v1" in parts else parts
        if parts[:1] == ["projects"] and len(parts) > 1:
            return [parts[1]]
        return parts[:1] or ["api"]
