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
