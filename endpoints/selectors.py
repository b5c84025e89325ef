"""Reads of a project's LLM endpoint settings."""

from __future__ import annotations

from endpoints.models import LLMEndpoint


def endpoint_for_project(*, project) -> LLMEndpoint | None:
    """The project's endpoint row, or None when it uses the local default server."""
    return LLMEndpoint.objects.filter(project=project).first()


def prompt_templates_for_project(*, project) -> dict[str, str]:
    """The project's prompt template overrides (keys among system, dl, dh, tmh); empty when none."""
    endpoint = endpoint_for_project(project=project)
    return dict(endpoint.templates or {}) if endpoint else {}


def llm_server_status(*, project) -> dict | None:
    """What htc_serve's supervisor last wrote about the local LLM server, when this project uses that server
    ({"state", "message", "restarts", "updated_at", ...}); None for another endpoint or when nothing was written."""
    from django.conf import settings

    from htc_app.llm_server import status_read

    endpoint = endpoint_for_project(project=project)
    base_url = endpoint.base_url if endpoint else settings.HTC_LLM_BASE_URL
    status = status_read(settings.HTC_DATA_DIR)
    if status is None:
        return None
    local = {status.get("base_url", "").rstrip("/"), settings.HTC_LLM_BASE_URL.rstrip("/")}
    return status if base_url.rstrip("/") in local else None
