"""Writes for projects and memberships."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from projects.models import Membership, Project, Role


@transaction.atomic
def project_create(*, name: str, owner, description: str = "", multi_path: bool = False) -> Project:
    """Create a project with its (empty) taxonomy and make `owner` its owner."""
    from taxonomies.services import taxonomy_create_for_project

    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    if Project.objects.filter(name=name).exists():
        raise ValidationError({"name": f"A project named {name!r} already exists."})
    project = Project.objects.create(name=name, description=description, multi_path=multi_path, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    taxonomy_create_for_project(project=project)
    return project


@transaction.atomic
def membership_set(*, project: Project, username: str, role: str, actor) -> Membership:
    """Add a member or change a member's role. The last owner cannot be demoted."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise ValidationError({"username": f"No user named {username!r}."})
    membership = Membership.objects.select_for_update().filter(project=project, user=user).first()
    if membership and membership.role == Role.OWNER and role != Role.OWNER:
        _ensure_not_last_owner(project, membership)
    if membership is None:
        membership = Membership.objects.create(project=project, user=user, role=role)
    else:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, project: Project, membership_id: int, actor) -> None:
    membership = Membership.objects.select_for_update().get(project=project, pk=membership_id)
    if membership.role == Role.OWNER:
        _ensure_not_last_owner(project, membership)
    membership.delete()


def _ensure_not_last_owner(project: Project, membership: Membership) -> None:
    owners = Membership.objects.filter(project=project, role=Role.OWNER).exclude(pk=membership.pk)
    if not owners.exists():
        raise ValidationError("A project must keep at least one owner.")
