"""Reads scoped to the user's memberships: every project query starts here."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from projects.models import Membership, Project, Role


def project_list_for_user(*, user: AbstractBaseUser) -> QuerySet[Project]:
    return Project.objects.filter(memberships__user=user).distinct()


def membership_get(*, user: AbstractBaseUser, project_id: int) -> Membership:
    """The user's membership of a project; 404 when the user is not a member (no existence leak)."""
    if not user.is_authenticated:
        raise Http404
    try:
        return Membership.objects.select_related("project").get(user=user, project_id=project_id)
    except Membership.DoesNotExist as exc:
        raise Http404("No such project") from exc


def project_for_user(*, user: AbstractBaseUser, project_id: int, role: str = Role.VIEWER) -> Project:
    """The project if the user is a member with at least `role`; 404 for non-members, 403 for too low a role."""
    membership = membership_get(user=user, project_id=project_id)
    if not membership.has_role(role):
        raise PermissionDenied(f"This needs the {role} role in {membership.project.name}.")
    project = membership.project
    project.current_membership = membership
    return project
