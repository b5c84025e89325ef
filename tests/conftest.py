"""Shared fixtures: small factories for users, projects, taxonomies and documents."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# One Playwright instance per session for every browser test, wherever it lives.
pytest_plugins = ["tests.browser_fixtures"]

REPO = Path(__file__).resolve().parent.parent
SHARED_DATASETS = (REPO.parent / "shared" / "datasets").resolve()
PASSWORD = "correct horse battery staple"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@contextmanager
def rolled_back_module_data(django_db_blocker, build):
    """Rows made once for a whole test module: `build()` runs inside a transaction that is rolled back when the
    module is done. Each test's `db` atomic block nests in it as a savepoint, so what a test writes is undone
    before the next one, exactly as with Django's TestCase.setUpTestData (hand each test a copy.deepcopy of
    the objects, as setUpTestData does). Never for transactional tests (live_server, transactional_db), nor
    for tests whose other threads or processes write (SQLite's write lock stays held for the module)."""
    from django.db import transaction
    from django.test import override_settings

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):  # as _fast_password_hasher, for the logins
                data = build()
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield data
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


# A test marked db_independent runs in the SQLite leg only (make test-pg deselects it); it may use none of these.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "django_db_setup",
    "live_server",
}


def pytest_collection_modifyitems(config, items):
    """Refuse a db_independent mark on a test that reaches the database (it would never run on PostgreSQL)."""
    wrong = [
        item.nodeid
        for item in items
        if item.get_closest_marker("db_independent")
        and (item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ())))
    ]
    if wrong:
        raise pytest.UsageError("marked db_independent but uses the database: " + ", ".join(wrong))


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (cached counts of one test never leak into the next)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str = "alice", **extra):
        return django_user_model.objects.create_user(username=username, password=PASSWORD, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def make_project(db, owner):
    from projects.services import project_create

    def make(name: str = "Demo", owner=owner, **extra):
        return project_create(name=name, owner=owner, **extra)

    return make


@pytest.fixture
def project(make_project):
    return make_project()


@pytest.fixture
def add_member(db):
    from projects.models import Membership

    def add(project, user, role):
        return Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})[0]

    return add


def tree_build(project, spec: dict, actor=None) -> dict:
    """tree_build(project, {"CS": {"ML": {}, "CV": {}}, "Med": {"Cancer": {}}}) -> {"CS": node, "CS > ML": node, ...}"""
    from taxonomies.services import node_create

    made: dict = {}
    stack = [(name, children, None, name) for name, children in spec.items()]
    while stack:
        name, children, parent, key = stack.pop(0)
        node = node_create(taxonomy=project.taxonomy, name=name, parent=parent, actor=actor)
        made[key] = node
        stack.extend((c, gc, node, f"{key} > {c}") for c, gc in children.items())
    return made


@pytest.fixture
def build_tree(db):
    """build_tree(project, {"CS": {"ML": {}, "CV": {}}, "Med": {"Cancer": {}}}) -> {"CS": node, "CS > ML": node, ...}"""
    return tree_build


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """Password hashing dominates user creation; tests need no real key stretching."""
    settings.PASSWORD_HASHERS = FAST_HASHERS
