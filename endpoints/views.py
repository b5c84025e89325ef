"""The project's LLM endpoint settings page (owners only). Thin: validate, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from classifiers.engine.llm.prompts import DEFAULT_TEMPLATES
from endpoints.forms import EndpointForm
from endpoints.selectors import endpoint_for_project, llm_server_status
from endpoints.services import endpoint_reset, endpoint_save, endpoint_test
from projects.models import Role
from projects.selectors import project_for_user


def _initial(endpoint) -> dict:
    from django.conf import settings

    if endpoint is None:
        return {"base_url": settings.HTC_LLM_BASE_URL, "model": settings.HTC_LLM_MODEL}
    initial = {
        "base_url": endpoint.base_url,
        "model": endpoint.model,
        "price_in_per_1k": endpoint.price_in_per_1k,
        "price_out_per_1k": endpoint.price_out_per_1k,
        "concurrency": endpoint.concurrency,
        "timeout": endpoint.timeout,
    }
    initial.update({f"template_{k}": v for k, v in (endpoint.templates or {}).items()})
    return initial


def _copy_errors(form: EndpointForm, exc: ValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
@require_http_methods(["GET", "POST"])
def endpoint_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
    endpoint = endpoint_for_project(project=project)
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint_save(project=project, actor=request.user, **form.service_kwargs())
            except ValidationError as exc:
                _copy_errors(form, exc)
            else:
                messages.success(request, "LLM endpoint saved.")
                return redirect("endpoints:settings", project_id=project.pk)
    else:
        form = EndpointForm(initial=_initial(endpoint))
    return render(request, "endpoints/settings.html", _context(project, endpoint, form))


def _context(project, endpoint, form, test=None) -> dict:
    return {
        "project": project,
        "endpoint": endpoint,
        "form": form,
        "default_templates": DEFAULT_TEMPLATES,
        "test": test,
        "local_server": llm_server_status(project=project),
    }


@login_required
@require_POST
def endpoint_test_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """Test connection: one bounded call to the saved endpoint; the page shows model, format and latency."""
    project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
    endpoint = endpoint_for_project(project=project)
    test = endpoint_test(project=project)
    return render(
        request, "endpoints/settings.html", _context(project, endpoint, EndpointForm(initial=_initial(endpoint)), test)
    )


@login_required
@require_POST
def endpoint_reset_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
    endpoint_reset(project=project, actor=request.user)
    messages.success(request, "The project now uses the local default LLM server.")
    return redirect("endpoints:settings", project_id=project.pk)
