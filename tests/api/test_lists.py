"""Lists: ordering only from allow-lists (the ORM-leak lesson), explicit filters, pagination with a maximum."""

from __future__ import annotations

import copy
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(module_world, db):
    """The `world` of tests/api/conftest.py, built once for this module; a deep copy per test (as
    setUpTestData's attributes)."""
    return copy.deepcopy(module_world)


LISTS = [
    "/api/v1/projects/",
    "/api/v1/projects/{p}/members/",
    "/api/v1/projects/{p}/taxonomy/nodes/",
    "/api/v1/projects/{p}/corpora/",
    "/api/v1/projects/{p}/documents/",
    "/api/v1/projects/{p}/runs/",
    "/api/v1/projects/{p}/runs/{run}/predictions/",
    "/api/v1/projects/{p}/corrections/",
    "/api/v1/projects/{p}/jobs/",
]


@pytest.fixture
def owner_client(world, token_client):
    return token_client(world["users"]["owner"])


def url(world, template: str) -> str:
    return template.format(p=world["project"].pk, run=world["run"].pk)


@pytest.mark.parametrize("template", LISTS)
@pytest.mark.parametrize("ordering", ["created_by__password", "-user__password", "annotator__password", "pk; DROP"])
def test_ordering_outside_the_allow_list_is_refused_before_any_sql_uses_it(world, owner_client, template, ordering):
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(url(world, template), {"ordering": ordering})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["field"] == "ordering"
    assert "use one of" in body["detail"]
    # (The token check selects the user row, password column included; what must never happen is ordering by it.)
    assert not any(re.search(r"ORDER BY[^;]*password", q["sql"]) for q in queries.captured_queries)


def test_allowed_orderings_sort_both_ways(world, owner_client):
    base = url(world, "/api/v1/projects/{p}/taxonomy/nodes/")
    up = [n["name"] for n in owner_client.get(base, {"ordering": "name", "page_size": 200}).json()["results"]]
    down = [n["name"] for n in owner_client.get(base, {"ordering": "-name", "page_size": 200}).json()["results"]]
    assert up == sorted(up) and down == list(reversed(up)) and len(up) == 7


@pytest.mark.parametrize(
    ("params", "field"),
    [({"split": "everything"}, "split"), ({"node": "x"}, "node"), ({"corpus": "-1"}, "corpus"), ({"q": "a\x00b"}, "q")],
)
def test_bad_filter_values_are_400_naming_the_parameter(world, owner_client, params, field):
    response = owner_client.get(url(world, "/api/v1/projects/{p}/documents/"), params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == field


def test_document_filters(world, owner_client):
    base = url(world, "/api/v1/projects/{p}/documents/")

    def ids(**params):
        return [d["external_id"] for d in owner_client.get(base, params).json()["results"]]

    assert ids(split="test") == ["d4", "d5"]
    assert ids(node=world["nodes"]["Sci > Phys"].pk) == ["d0", "d3"]
    assert ids(q="about Sport") == ["d2", "d5"]
    assert ids(ordering="-external_id")[:2] == ["d5", "d4"]
    # A label of another project matches nothing here (and reveals nothing).
    assert ids(node=world["other_node"].pk) == []


def test_pagination_has_a_maximum_page_size(world, owner_client, build_tree):
    build_tree(world["project"], {f"Extra{i:03d}": {} for i in range(230)})
    base = url(world, "/api/v1/projects/{p}/taxonomy/nodes/")
    first = owner_client.get(base).json()
    assert first["count"] == 237 and len(first["results"]) == 50 and first["next"]
    big = owner_client.get(base, {"page_size": 10_000}).json()
    assert len(big["results"]) == 200
    last = owner_client.get(base, {"page_size": 200, "page": 2}).json()
    assert len(last["results"]) == 37 and last["next"] is None
    beyond = owner_client.get(base, {"page": 99})
    assert beyond.status_code == 404 and set(beyond.json()) == {"detail", "errors"}


def test_prediction_filters_and_margin_order(world, owner_client):
    base = url(world, "/api/v1/projects/{p}/runs/{run}/predictions/")
    rows = owner_client.get(base, {"ordering": "-margin"}).json()["results"]
    assert [r["margin"] for r in rows] == sorted((r["margin"] for r in rows), reverse=True)
    test_rows = owner_client.get(base, {"split": "test"}).json()["results"]
    assert {r["document_external_id"] for r in test_rows} == {"d4", "d5"}
    assert rows[0]["path_names"] == [["Sport", "Team"]]
