"""The UI permission matrix: every route of htc_app.urls x every role x GET and POST (reliability.md #20, #21).

Anonymous visitors are sent to log in and see no data; a member of another project gets 404; a member with too
low a role gets 403; a refused POST writes nothing (every row of every htc app is compared before and after);
an object of another project named in a project's URL is 404. The route table is in tests/security/routes.py:
a new route without an entry fails `test_every_ui_route_has_an_entry_in_the_table`.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.urls import reverse

from tests.security.conftest import ROLES
from tests.security.routes import EXCLUDED_PREFIXES, ROUTES, ROUTES_BY_NAME, Pattern, role_allows, ui_patterns
from tests.security.world import changed_tables, snapshot

pytestmark = pytest.mark.django_db
PATTERNS = {p.name: p for p in ui_patterns()}
FIXED_KWARGS = {"fmt", "what"}


def url_for(route, pattern: Pattern, world, override: dict | None = None) -> str:
    values = {**world_kwargs(route, world), **route.kwargs, **(override or {})}
    if not pattern.name or "/" in pattern.name:
        return "/" + pattern.route
    return reverse(route.name, kwargs={k: values[k] for k in pattern.kwargs})


def world_kwargs(route, world) -> dict:
    """The world's object ids for the route's URL (its own choice of object first)."""
    return {**world.kwargs(), **route.objects(world)}


def expected(route, pattern: Pattern, role: str, method: str) -> int | str:
    """'ok', 'login' or the status code a role should get."""
    minimum = route.get if method == "get" else route.post
    if minimum == "anyone":
        return "ok"
    if role == "anon":
        return "login"
    if minimum is None:
        return 405
    if role == "outsider" and "project_id" in pattern.kwargs:
        return 404
    return "ok" if role_allows(role, minimum) else 403


def send(client, method: str, url: str, route, world):
    if method == "get":
        return client.get(url + route.query(world))
    return client.post(url, route.data(world))


def test_every_ui_route_has_an_entry_in_the_table():
    assert set(PATTERNS) == set(ROUTES_BY_NAME), (
        f"routes without a table entry: {sorted(set(PATTERNS) - set(ROUTES_BY_NAME))}; "
        f"table entries without a route: {sorted(set(ROUTES_BY_NAME) - set(PATTERNS))}"
    )
    # The exclusions are deliberate and do exclude something (the admin and the login views).
    from tests.security.routes import get_resolver

    prefixes = {str(p.pattern) for p in get_resolver().url_patterns}
    assert {"admin/", "accounts/"} <= prefixes and "admin/" in EXCLUDED_PREFIXES


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name or "root")
def test_each_role_gets_what_the_table_says_and_refused_posts_write_nothing(route, worlds, clients):
    alpha, _ = worlds
    pattern = PATTERNS[route.name]
    url = url_for(route, pattern, alpha)
    secrets = [alpha.document.text.encode(), alpha.run.name.encode()]
    for role in ROLES:
        for method in ("get", "post"):
            want = expected(route, pattern, role, method)
            where = f"{method.upper()} {url} as {role}"
            with transaction.atomic():
                before = snapshot()
                response = send(clients[role], method, url, route, alpha)
                after = snapshot()
                transaction.set_rollback(True)
            if want == "login":
                assert response.status_code == 302, where
                assert response["Location"].startswith(reverse("login") + "?next="), where
            elif want == "ok":
                ok = route.get_status if method == "get" else (200, 302)
                assert response.status_code in (ok if isinstance(ok, tuple) else (ok,)), (where, response.status_code)
            else:
                assert response.status_code == want, (where, response.status_code)
            if want != "ok":
                assert changed_tables(before, after) == [], f"{where} was refused but wrote"
            if role in ("anon", "outsider") and want != "ok":
                body = b"".join(response.streaming_content) if response.streaming else response.content
                assert not any(s in body for s in secrets), f"{where} leaked Alpha's data"
            if want == "ok" and method == "post" and role == "owner" and route.writes:
                assert changed_tables(before, after), f"{where} was allowed but changed nothing (bad test payload?)"


NESTED = [
    (route, kwarg)
    for route in ROUTES
    for kwarg in PATTERNS[route.name].kwargs
    if kwarg not in FIXED_KWARGS and kwarg != "project_id"
]


@pytest.mark.parametrize("route,kwarg", NESTED, ids=lambda v: getattr(v, "name", v))
def test_an_object_of_another_project_in_a_project_url_is_404(route, kwarg, worlds, clients):
    """Alpha's owner names one of Bravo's objects under Alpha's project id: 404 and nothing written."""
    alpha, bravo = worlds
    pattern = PATTERNS[route.name]
    url = url_for(route, pattern, alpha, override={kwarg: world_kwargs(route, bravo)[kwarg]})
    for method in ("get", "post"):
        if (route.get if method == "get" else route.post) is None:
            continue
        with transaction.atomic():
            before = snapshot()
            response = send(clients["owner"], method, url, route, alpha)
            after = snapshot()
            transaction.set_rollback(True)
        assert response.status_code == 404, (method, url, response.status_code)
        assert changed_tables(before, after) == [], f"{method} {url} wrote"
        assert bravo.document.text.encode() not in response.content


WITH_OBJECTS = sorted({route.name for route, _ in NESTED})


@pytest.mark.parametrize("name", WITH_OBJECTS)
def test_the_outsider_cannot_reach_alpha_through_their_own_project_id(name, worlds, clients):
    """Bravo's owner puts Bravo's project id in front of Alpha's objects: 404 (objects are checked through
    their project, not only the project in the URL)."""
    alpha, bravo = worlds
    route, pattern = ROUTES_BY_NAME[name], PATTERNS[name]
    url = url_for(route, pattern, alpha, override={"project_id": bravo.project.pk})
    for method in ("get", "post"):
        if (route.get if method == "get" else route.post) is None:
            continue
        with transaction.atomic():
            before = snapshot()
            response = send(clients["outsider"], method, url, route, alpha)
            after = snapshot()
            transaction.set_rollback(True)
        assert response.status_code == 404, (method, url, response.status_code)
        assert changed_tables(before, after) == []
