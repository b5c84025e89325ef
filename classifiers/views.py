"""Placeholder pages until the classification engine lands (issue 4)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from projects.selectors import project_for_user


@login_required
def run_list(request, project_id: int):
    project = project_for_user(user=request.user, project_id=project_id)
    return render(request, "placeholder.html", {"project": project, "title": "Classifiers"})


@login_required
def metrics(request, project_id: int):
    project = project_for_user(user=request.user, project_id=project_id)
    return render(request, "placeholder.html", {"project": project, "title": "Metrics"})
