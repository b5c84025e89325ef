"""Every query parameter of every API GET route, given arbitrary Unicode, answers 200 or 400 (JSON), never 500
(or a 404 for a well-formed page number past the last page).

The routes and their parameters come from the OpenAPI schema the API serves (plus `page` and `page_size`, which
every list takes), so a route or a filter added later is covered without touching this test. Ids in the paths
are the world's real objects, so the requests reach the filters instead of stopping at 404.
"""

from __future__ import annotations

import copy
import re
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from htc_app.params import id_param

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(module_world, db):
    """The `world` of tests/api/conftest.py, built once for this module; a deep copy per test (as
    setUpTestData's attributes)."""
    return copy.deepcopy(module_world)


#: Values that broke parsers before: Unicode digits ('²' passes str.isdigit, int() refuses it; '١٢' is read as
#: 12), NUL (PostgreSQL refuses it), numbers past 64 bits, signs, spaces, lookup-like strings.
NASTY = ["²", "١٢", "\x00", "9" * 30, "-1", "0", " 1", "1.5", "1e3", "id__in", "-", "true", "", "%", "\u202e1"]
VALUES = st.one_of(st.sampled_from(NASTY), st.text(st.characters(blacklist_categories=("Cs",)), max_size=24))


def _get_routes() -> list[tuple[str, list[str]]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    routes = []
    for path, item in sorted(schema["paths"].items()):
        if "get" in item:
            names = {p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"}
            routes.append((path, sorted(names | {"page", "page_size"})))
    return routes


ROUTES = _get_routes()


def test_the_schema_declares_the_list_filters():
    declared = dict(ROUTES)
    assert "corpus" in declared["/api/v1/projects/{project_id}/documents/"]
    assert len(ROUTES) > 15


def _real_path(path: str, world) -> str:
    from api.models import ApiToken
    from projects.models import Membership

    task = None
    if "{task_id}" in path:
        from taxonomies.splitting import node_split

        # A "which child?" review task: Sci > Bio's documents wait for a child.
        task = node_split(node=world["nodes"]["Sci > Bio"], children=["Cell"], actor=world["users"]["owner"])["task"]
    ids = {
        "task_id": task.pk if task else 1,
        "project_id": world["project"].pk,
        "run_id": world["run"].pk,
        "node_id": world["nodes"]["Sci"].pk,
        "corpus_id": world["corpus"].pk,
        "document_id": world["docs"][0].pk,
        "prediction_id": world["preds"][0].pk,
        "correction_id": world["correction"].pk,
        "job_id": world["job"].pk,
        # Ids are not reused after a rolled-back test on PostgreSQL, so no id is assumed (the owner's own token,
        # made by token_client before the path is built).
        "membership_id": Membership.objects.get(project=world["project"], user=world["users"]["viewer"]).pk,
        "token_id": ApiToken.objects.filter(user=world["users"]["owner"]).latest("pk").pk,
    }
    return re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), path)


@pytest.mark.parametrize(("path", "names"), ROUTES, ids=[path for path, _ in ROUTES])
def test_arbitrary_unicode_in_any_query_parameter_is_a_200_or_a_400(path, names, world, token_client):
    client = token_client(world["users"]["owner"])
    url = _real_path(path, world)

    @settings(
        max_examples=25, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(query=st.dictionaries(st.sampled_from(names), VALUES, min_size=1, max_size=3))
    def check(query):
        response = client.get(url, query)
        # A well-formed page number past the last page is the one 404 (DRF's convention, tests/api/test_lists.py).
        allowed = (200, 400, 404) if id_param(query.get("page")) else (200, 400)
        assert response.status_code in allowed, (url, query, response.status_code, response.content[:300])
        if response.status_code == 400:
            assert response["Content-Type"].startswith("application/json"), (url, query)

    check()


def test_a_unicode_digit_in_an_id_filter_is_a_400_naming_the_parameter(world, token_client):
    client = token_client(world["users"]["owner"])
    response = client.get(f"/api/v1/projects/{world['project'].pk}/documents/", {"corpus": "²"})
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "corpus"
    assert client.get(f"/api/v1/projects/{world['project'].pk}/documents/", {"corpus": "١٢"}).status_code == 400
    ok = client.get(f"/api/v1/projects/{world['project'].pk}/documents/", {"corpus": str(world["corpus"].pk)})
    assert ok.status_code == 200 and ok.json()["count"] == 6


# ----- one declaration per route (api/params.py): what the schema lists is what the view parses -----
def _operations() -> list[tuple[str, str, object, dict]]:
    """(path, method, the view method's QuerySpec or None, its schema query parameters) per API operation."""
    from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, _, method, callback in EndpointEnumerator().get_api_endpoints():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is not None:
            spec = getattr(getattr(callback.cls, method.lower()), "query_spec", None)
            params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
            found.append((path, method, spec, params))
    return found


OPERATIONS = _operations()
FILTERED = [op for op in OPERATIONS if op[2] is not None]


def test_every_filtered_route_is_found():
    paths = {path for path, *_ in FILTERED}
    assert {"/api/v1/projects/", "/api/v1/projects/{project_id}/documents/"} <= paths and len(FILTERED) >= 10


@pytest.mark.parametrize(("path", "method", "spec", "params"), OPERATIONS, ids=[f"{o[1]} {o[0]}" for o in OPERATIONS])
def test_the_schema_lists_exactly_the_declared_query_parameters(path, method, spec, params):
    from drf_spectacular.plumbing import build_basic_type

    from api.params import Choice, Ordering

    declared = {param.name: param for param in spec.params()} if spec else {}
    published = {name: p for name, p in params.items() if name not in ("page", "page_size")}
    assert sorted(published) == sorted(declared)
    for name, param in declared.items():
        assert published[name]["schema"]["type"] == build_basic_type(param.type)["type"], name
        assert published[name]["description"] == param.description
        if isinstance(param, Choice | Ordering):
            assert sorted(published[name]["schema"]["enum"]) == sorted(param.values())


def test_no_api_view_reads_the_query_string_itself():
    """Views take their parameters from `@query(Spec)`; the schema page's own ?format= is not in the schema."""
    from pathlib import Path

    views = Path(__file__).resolve().parents[2] / "api" / "views"
    readers = [p.name for p in views.glob("*.py") if "query_params" in p.read_text() and p.name != "docs.py"]
    assert readers == []


def _samples(param) -> tuple[str, str]:
    """(a value of the wrong type, a valid one) for a declared parameter. 'tfidf' is a search text and the world
    run's stage name."""
    from api.params import Bool, Choice, Int, Ordering

    if isinstance(param, Int):
        return "²", "1"
    if isinstance(param, Bool):
        return "maybe", "false"
    if isinstance(param, Ordering):
        return "-no-such-order", f"-{next(iter(param.allowed))}"
    if isinstance(param, Choice):
        return "no-such-choice", param.values()[0]
    return "a\x00b", "tfidf"


@pytest.mark.parametrize(
    ("path", "method", "spec"), [o[:3] for o in FILTERED], ids=[f"{o[1]} {o[0]}" for o in FILTERED]
)
def test_every_declared_parameter_is_parsed_by_the_view(path, method, spec, world, token_client):
    """A value of the wrong type is a 400 naming the parameter (JSON, nothing done); a valid value is a 200."""
    from taxonomies.models import Node

    client = token_client(world["users"]["owner"])
    url = _real_path(path, world)
    send = getattr(client, method.lower())
    for param in spec.params():
        bad, good = _samples(param)
        response = send(f"{url}?{urlencode({param.name: bad})}")
        assert response.status_code == 400 and response["Content-Type"].startswith("application/json"), param.name
        assert [e["field"] for e in response.json()["errors"]] == [param.name]
        if method == "GET":
            assert client.get(url, {param.name: good}).status_code == 200, (param.name, good)
    assert Node.objects.filter(pk=world["nodes"]["Sci"].pk).exists()  # the refused DELETE deleted nothing
