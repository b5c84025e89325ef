"""Fixtures for the jobs tests: a project without a taxonomy, test-only handlers, the Immediate backend."""

from __future__ import annotations

import pytest
from django.test import override_settings

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def immediate_tasks():
    """Tasks run where they are enqueued (django_tasks resets its backends on setting_changed)."""
    with override_settings(TASKS=IMMEDIATE):
        yield


@pytest.fixture
def quick_user(db, django_user_model):
    """Users without a password hash (fast); log them in with client.force_login."""

    def make(username: str):
        return django_user_model.objects.create_user(username=username, password=None)

    return make


@pytest.fixture
def job_project(quick_user):
    """A project with an owner; jobs need nothing else (no taxonomy)."""
    from projects.models import Membership, Project, Role

    owner = quick_user("jobowner")
    project = Project.objects.create(name="Jobs demo", created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    project.owner_user = owner
    return project


@pytest.fixture
def handlers():
    """Register test-only handlers: handlers("kind", func); removed again after the test."""
    from jobs.registry import HANDLERS

    added: list[str] = []

    def register(kind: str, func):
        HANDLERS[kind] = func
        added.append(kind)
        return func

    yield register
    for kind in added:
        HANDLERS.pop(kind, None)
