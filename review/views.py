"""Placeholder page until the review workflow lands (issue 8)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from projects.selectors import project_for_user


@login_required
def review_index(request, project_id: int):
    project = project_for_user(user=request.user, project_id=project_id)
    return render(request, "placeholder.html", {"project": project, "title": "Review"})
