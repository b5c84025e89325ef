"""Fixtures for the security tests: two complete projects (Alpha with every role, Bravo owned by an outsider)."""

from __future__ import annotations

import copy

import pytest
from django.test import Client

from tests.conftest import rolled_back_module_data
from tests.security.world import build_world, make_user

ROLES = ("anon", "outsider", "viewer", "annotator", "owner")


def _build_worlds():
    from projects.models import Membership, Role

    owner, outsider, viewer, annotator = (make_user(n) for n in ("alice", "mallory", "victor", "anna"))
    alpha = build_world(name="Alpha", owner=owner, member=annotator)
    Membership.objects.create(project=alpha.project, user=viewer, role=Role.VIEWER)
    bravo = build_world(name="Bravo", owner=outsider)
    alpha.extra.update(viewer=viewer, annotator=annotator, outsider=outsider)
    return alpha, bravo


@pytest.fixture(scope="module")
def module_worlds(django_db_setup, django_db_blocker):
    """The two worlds, built once per test module (~0.3 s each, and hundreds of tests use them) and rolled back
    at its end; each test writes in a savepoint (see rolled_back_module_data). No transactional tests here."""
    with rolled_back_module_data(django_db_blocker, _build_worlds) as worlds:
        yield worlds


@pytest.fixture
def worlds(module_worlds, db):
    """(alpha, bravo): alpha has an owner, a viewer and an annotator; bravo's owner is alpha's outsider.

    A deep copy per test (as setUpTestData's attributes), so no test sees another's in-memory changes."""
    return copy.deepcopy(module_worlds)


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
