"""Fixtures for the security tests: two complete projects (Alpha with every role, Bravo owned by an outsider)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.security.world import build_world, make_user

ROLES = ("anon", "outsider", "viewer", "annotator", "owner")


@pytest.fixture
def worlds(db):
    """(alpha, bravo): alpha has an owner, a viewer and an annotator; bravo's owner is alpha's outsider."""
    from projects.models import Membership, Role

    owner, outsider, viewer, annotator = (make_user(n) for n in ("alice", "mallory", "victor", "anna"))
    alpha = build_world(name="Alpha", owner=owner, member=annotator)
    Membership.objects.create(project=alpha.project, user=viewer, role=Role.VIEWER)
    bravo = build_world(name="Bravo", owner=outsider)
    alpha.extra.update(viewer=viewer, annotator=annotator, outsider=outsider)
    return alpha, bravo


@pytest.fixture
def clients(worlds):
    """A logged-in test client per role of Alpha ("anon" is logged out)."""
    alpha, _ = worlds
    users = {"outsider": alpha.extra["outsider"], "viewer": alpha.extra["viewer"]}
    users.update(annotator=alpha.extra["annotator"], owner=alpha.owner)
    made = {"anon": Client()}
    for role, user in users.items():
        made[role] = Client()
        made[role].force_login(user)
    return made
