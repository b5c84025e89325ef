"""Keyset (seek) paging of the review queue: the same order as the queryset, every item exactly once even while
decisions are taken between pages, cursors in the page links, cached counts."""

from __future__ import annotations

import random

import pytest
from django.urls import reverse

from classifiers.models import Prediction, Run
from corpora.models import Corpus, Document
from review.models import Correction
from review.selectors import QueueCursor, review_queue, review_queue_count, review_queue_page
from review.services import correction_record


@pytest.fixture
def big_run(project, build_tree):
    """137 predictions over every (valid, consistent) group, repeated margins and missing margins."""
    nodes = build_tree(project, {"A": {"A1": {}, "A2": {}}, "B": {"B1": {}}})
    leaves = [nodes["A > A1"], nodes["A > A2"], nodes["B > B1"]]
    corpus = Corpus.objects.create(project=project, name="c")
    rng = random.Random(7)
    docs = Document.objects.bulk_create(
        [Document(project=project, corpus=corpus, external_id=f"d{i}", text=f"t {i}", split="test") for i in range(137)]
    )

    def make(run):
        preds = []
        for doc in docs:
            leaf = rng.choice(leaves)
            preds.append(
                Prediction(
                    run=run,
                    document=doc,
                    paths=[[leaf.parent_id, leaf.pk]],
                    scores=[0.5, 0.5],
                    valid=rng.random() > 0.1,
                    consistent=rng.random() > 0.2,
                    margin=None if rng.random() < 0.15 else rng.choice([0.1, 0.25, 0.5, rng.random()]),
                    stage=rng.choice(["review", "1:tfidf"]) if run.strategy == "cascade" else "tfidf",
                    leaf_node=leaf.pk,
                )
            )
        Prediction.objects.bulk_create(preds)
        return run

    plain = make(Run.objects.create(project=project, name="plain", strategy="tfidf"))
    cascade = make(Run.objects.create(project=project, name="cascade", strategy="cascade"))
    return {"plain": plain, "cascade": cascade, "nodes": nodes}


def _walk(run, size, **filters) -> list[int]:
    seen, cursor = [], None
    while True:
        page = review_queue_page(run=run, cursor=cursor, size=size, **filters)
        seen += [p.pk for p in page.items]
        if not page.has_next:
            return seen
        cursor = QueueCursor.decode(page.next_cursor)


@pytest.mark.parametrize("which", ["plain", "cascade"])
@pytest.mark.parametrize("order", ["uncertainty", "document"])
@pytest.mark.parametrize("size", [1, 7, 50, 500])
def test_keyset_pages_follow_the_queue_order_exactly(big_run, which, order, size):
    run = big_run[which]
    expected = list(review_queue(run=run, order=order).values_list("pk", flat=True))
    assert len(expected) == 137
    assert _walk(run, size, order=order) == expected


def test_keyset_pages_with_filters_match_the_filtered_queue(big_run):
    run, node = big_run["plain"], big_run["nodes"]["A"]
    expected = list(review_queue(run=run, node=node, split="test").values_list("pk", flat=True))
    assert 0 < len(expected) < 137
    assert _walk(run, 9, node=node, split="test") == expected


def test_every_item_exactly_once_while_decisions_are_taken_between_pages(big_run, project, owner, make_user):
    """The "not reviewed yet" queue while this user and another decide: the documents decided after they were
    shown leave the queue, yet no later item is skipped (an OFFSET page would skip as many as were decided)."""
    run = big_run["plain"]
    other = make_user("other")
    expected = list(review_queue(run=run, reviewed=False).values_list("pk", flat=True))
    seen, cursor = [], None
    while True:
        page = review_queue_page(run=run, cursor=cursor, size=10, reviewed=False)
        seen += [p.pk for p in page.items]
        for i, prediction in enumerate(page.items):  # decided concurrently: by us, and by someone else
            who = owner if i % 2 else other
            correction_record(
                project=project, document=prediction.document, annotator=who, action="reject", prediction=prediction
            )
        if not page.has_next:
            break
        cursor = QueueCursor.decode(page.next_cursor)
    assert seen == expected and len(set(seen)) == len(seen) == 137
    assert Correction.objects.filter(superseded_by=None).count() == 137
    assert review_queue_page(run=run, reviewed=False).items == []


def test_malformed_cursors_start_at_the_top():
    for text in ["", "x", "1~2", "a~b~c", "1~nan~3", "1~inf~3", None]:
        assert QueueCursor.decode(text) is None
    cursor = QueueCursor(3, 0.1 + 0.2, 41)
    assert QueueCursor.decode(cursor.encode()) == cursor


def test_count_is_cached_until_a_decision_is_recorded(big_run, project, owner, django_assert_num_queries):
    run = big_run["plain"]
    first = review_queue_count(run=run, reviewed=False)
    assert first == 137
    with django_assert_num_queries(1):  # only the newest decision's id, no count
        assert review_queue_count(run=run, reviewed=False) == 137
    prediction = Prediction.objects.filter(run=run).first()
    correction_record(
        project=project, document=prediction.document, annotator=owner, action="reject", prediction=prediction
    )
    assert review_queue_count(run=run, reviewed=False) == 136


def test_queue_view_links_the_next_page_by_cursor(client_for, owner, project, big_run):
    run = big_run["plain"]
    client = client_for(owner)
    url = reverse("review:queue", args=[project.pk, run.pk])
    first = client.get(url)
    assert first.status_code == 200
    page = first.context["page"]
    assert len(page.items) == 50 and page.has_next and first.context["total"] == 137
    assert f'href="?page=2&amp;after={page.next_cursor}" rel="next"' in first.content.decode()
    second = client.get(url, {"after": page.next_cursor, "page": 2})
    assert "51–100 of 137" in second.content.decode()
    expected = list(review_queue(run=run).values_list("pk", flat=True))
    assert [p.pk for p in second.context["page"].items] == expected[50:100]
    assert client.get(url, {"after": "garbage"}).context["page"].items[0].pk == expected[0]


def test_next_item_skips_decided_and_skipped_predictions(client_for, owner, project, big_run):
    run = big_run["plain"]
    order = list(review_queue(run=run))
    correction_record(
        project=project, document=order[0].document, annotator=owner, action="reject", prediction=order[0]
    )
    client = client_for(owner)
    response = client.get(reverse("review:next", args=[project.pk, run.pk]))
    assert response.status_code == 302
    assert reverse("review:item", args=[project.pk, run.pk, order[1].pk]) in response["Location"]


def test_on_sqlite_a_queue_page_reads_the_review_index_without_sorting(big_run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL chooses plans from table statistics; this checks SQLite's fixed planner")
    with CaptureQueriesContext(connection) as queries:
        review_queue_page(run=big_run["plain"], cursor=QueueCursor(2, 0.3, 0), size=10)
    pages = [q["sql"] for q in queries.captured_queries if 'FROM "classifiers_prediction"' in q["sql"]]
    assert pages
    with connection.cursor() as cursor:
        for sql in pages:
            plan = " ".join(str(row) for row in cursor.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
            assert "prediction_review_order" in plan and "TEMP B-TREE" not in plan, plan
