"""Project list, project overview and member management. Thin: validate, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from htc_app.bidi import isolate
from projects.forms import MemberForm, ProjectForm
from projects.models import Membership, Role
from projects.selectors import project_for_user, project_list_for_user
from projects.services import membership_remove, membership_set, project_create


def form_errors_from(form, exc: ValidationError) -> None:
    """Copy a service's ValidationError onto a form so the page shows it beside the field."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_GET
def project_list(request: HttpRequest) -> HttpResponse:
    projects = project_list_for_user(user=request.user)
    memberships = {m.project_id: m.role for m in Membership.objects.filter(user=request.user)}
    rows = [(p, memberships.get(p.pk)) for p in projects]
    return render(request, "projects/list.html", {"rows": rows, "form": ProjectForm()})


@login_required
def project_create_view(request: HttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            project = project_create(owner=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Project {isolate(project.name)} created.")
            return redirect("projects:detail", project_id=project.pk)
    return render(request, "projects/create.html", {"form": form})


@login_required
@require_GET
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    from projects.overview import project_overview

    project = project_for_user(user=request.user, project_id=project_id)
    return render(request, "projects/detail.html", {"project": project, **project_overview(project=project)})


@login_required
def member_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    form = MemberForm(request.POST or None)
    if request.method == "POST":
        project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        if form.is_valid():
            try:
                membership_set(project=project, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(
                    request, f"{isolate(form.cleaned_data['username'])} is now {form.cleaned_data['role']}."
                )
                return redirect("projects:members", project_id=project.pk)
    members = project.memberships.select_related("user")
    return render(request, "projects/members.html", {"project": project, "members": members, "form": form})


@login_required
@require_POST
def member_remove(request: HttpRequest, project_id: int, membership_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
    get_object_or_404(Membership, project=project, pk=membership_id)
    try:
        membership_remove(project=project, membership_id=membership_id, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("projects:members", project_id=project.pk)
