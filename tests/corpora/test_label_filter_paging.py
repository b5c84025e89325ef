"""The document list's label filter pages the same rows whichever way it reads them: a label on many documents is
checked document by document in id order (no list of every matching id first), a rare one collects its ids."""

from __future__ import annotations

import pytest

from corpora import selectors
from corpora.models import Document
from taxonomies.models import Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled(project, import_bytes):
    # 300 documents: 5 under Rare (under 1 in DENSE_LABEL), 30 without a path, the rest under Wide (two children).
    rows = ["id,text,path"]
    for i in range(300):
        path = "Rare > Only" if i % 60 == 0 else "" if i % 10 == 1 else "Wide > Left" if i % 2 else "Wide > Right"
        rows.append(f"d{i},text {i},{path}")
    import_bytes(project, "docs.csv", ("\n".join(rows) + "\n").encode(), add_missing_labels=True)
    return project


def _walk(project, node) -> list[int]:
    """Every id the list shows, following Next from page 1."""
    seen, page, after = [], 1, None
    while True:
        listed = selectors.document_page(project=project, node=node, page=page, after=after)
        seen += [row["id"] for row in listed.rows]
        if not listed.has_next:
            return seen
        page, after = page + 1, listed.next_after


@pytest.mark.parametrize("name", ["Wide", "Left", "Rare"])
def test_both_readings_list_exactly_the_documents_under_the_label_in_id_order(labelled, name):
    node = Node.objects.get(taxonomy=labelled.taxonomy, name=name)
    expected = sorted(
        Document.objects.filter(project=labelled, gold_labels__node__path_key__startswith=node.path_key)
        .values_list("pk", flat=True)
        .distinct()
    )
    assert expected
    for dense in (False, True):
        qs = selectors.documents_filtered(project=labelled, node=node, node_dense=dense)
        assert list(qs.order_by("id").values_list("pk", flat=True)) == expected
    assert _walk(labelled, node) == expected
    assert selectors.document_page(project=labelled, node=node).total == len(expected)


def test_a_wide_label_is_read_in_id_order_and_a_rare_one_by_its_ids(labelled):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def page_sql(node) -> str:
        with CaptureQueriesContext(connection) as queries:
            selectors.document_page(project=labelled, node=node)
        return next(q["sql"] for q in queries.captured_queries if "preview" in q["sql"])

    wide = page_sql(Node.objects.get(taxonomy=labelled.taxonomy, name="Wide"))
    rare = page_sql(Node.objects.get(taxonomy=labelled.taxonomy, name="Rare"))
    assert "EXISTS" in wide.upper() and " IN (SELECT" in rare.upper()
    if connection.vendor == "sqlite":  # SQLite's planner is fixed: walk the (project, id) index, probe each
        with connection.cursor() as cursor:
            plan = " ".join(str(row) for row in cursor.execute("EXPLAIN QUERY PLAN " + wide).fetchall())
        assert "LIST SUBQUERY" not in plan and "TEMP B-TREE" not in plan, plan  # no list of every match first
