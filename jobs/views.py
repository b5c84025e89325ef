"""Jobs pages: the project's job list, one job, its status JSON for the poller, and cancel."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from htc_app.params import local_next
from jobs.models import Job
from jobs.registry import target_url
from jobs.selectors import job_get, job_list_for_project, job_status
from jobs.services import job_can_cancel, job_cancel
from projects.models import Role
from projects.selectors import project_for_user


@login_required
@require_GET
def job_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    state = request.GET.get("state") or None
    page = Paginator(job_list_for_project(project=project, state=state), 50).get_page(request.GET.get("page"))
    membership = project.current_membership
    rows = [(job, job_can_cancel(job=job, membership=membership), target_url(job)) for job in page]
    context = {"project": project, "page": page, "rows": rows, "states": Job.State.choices, "state": state}
    return render(request, "jobs/list.html", context)


@login_required
@require_GET
def job_detail(request: HttpRequest, project_id: int, job_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    job = job_get(project=project, job_id=job_id)
    context = {
        "project": project,
        "job": job,
        "can_cancel": job_can_cancel(job=job, membership=project.current_membership),
        "target_url": target_url(job),
        # Pairs, not dict lookups in the template: a params key such as "items" would shadow dict.items.
        "params": _pairs(job.params),
        "result": _pairs(job.result),
    }
    return render(request, "jobs/detail.html", context)


def _pairs(data: dict) -> list[tuple[str, str]]:
    return [(str(k), v if isinstance(v, str) else json.dumps(v)) for k, v in sorted((data or {}).items())]


@never_cache
@login_required
@require_GET
def job_status_view(request: HttpRequest, project_id: int, job_id: int) -> JsonResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    return JsonResponse(job_status(job=job_get(project=project, job_id=job_id)))


@login_required
@require_POST
def job_cancel_view(request: HttpRequest, project_id: int, job_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    job = job_get(project=project, job_id=job_id)
    if not job_can_cancel(job=job, membership=project.current_membership):
        raise PermissionDenied("Only the project owner or the person who started a job may cancel it.")
    try:
        job = job_cancel(job=job, actor=request.user)
    except ValidationError as exc:
        messages.info(request, " ".join(exc.messages))
    else:
        if job.state == Job.State.CANCELLED:
            messages.success(request, "The job was cancelled.")
        else:
            messages.success(request, "The job will stop at its next progress step and keep what it finished.")
    next_url = local_next(request, request.POST.get("next"))
    if next_url:
        return HttpResponseRedirect(next_url)
    return redirect("jobs:detail", project_id=project.pk, job_id=job.pk)
