"""A text search pages the same rows however it finds them: on PostgreSQL a page first tests the documents of a
window of the id order one by one (a frequent word), and asks the text index for every match only when that window
holds less than a page (a rare word). Forward and backward paging list every match exactly once, in id order."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from corpora import selectors
from corpora.models import Document

pytestmark = pytest.mark.django_db
WINDOW = 40  # documents per window in these tests (the setting is 5,000): pages cross many windows


@pytest.fixture
def corpus(project, import_bytes, monkeypatch):
    # 400 documents: "common" in two of every three, "rare" in 4 spread out, "label" under a filter of half.
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", WINDOW)
    rows = ["id,text,path"]
    for i in range(400):
        words = ["common" if i % 3 else "plain", "rare" if i in (7, 150, 151, 390) else "", f"n{i}"]
        rows.append(f"d{i},{' '.join(w for w in words if w)},{'Half > A' if i % 2 else 'Other > B'}")
    import_bytes(project, "docs.csv", ("\n".join(rows) + "\n").encode(), add_missing_labels=True)
    return project


def _expected(project, word: str, node=None) -> list[int]:
    qs = Document.objects.filter(project=project, text__contains=word)
    if node is not None:
        qs = qs.filter(gold_labels__node=node)
    return sorted(qs.values_list("pk", flat=True))


def _walk_forward(project, q, node=None) -> list[int]:
    seen, page, after = [], 1, None
    while True:
        listed = selectors.document_page(project=project, q=q, node=node, page=page, after=after)
        seen += [row["id"] for row in listed.rows]
        if not listed.has_next:
            return seen
        page, after = page + 1, listed.next_after


def _walk_backward(project, q, last_id: int) -> list[int]:
    """From the end: the page before an id past the last match, then Previous until the first page."""
    seen, before = [], last_id + 1
    while True:
        listed = selectors.document_page(project=project, q=q, page=2, before=before)
        if not listed.rows:
            return seen
        seen = [row["id"] for row in listed.rows] + seen
        before = listed.previous_before


@pytest.mark.parametrize("word", ["common", "rare", "plain"])
def test_search_pages_list_every_match_once_in_order_both_ways(corpus, word):
    expected = _expected(corpus, word)
    assert expected
    assert _walk_forward(corpus, word) == expected
    assert _walk_backward(corpus, word, expected[-1]) == expected


def test_a_search_within_a_label_filter_pages_the_same_way(corpus):
    from taxonomies.models import Node

    half = Node.objects.get(taxonomy=corpus.taxonomy, name="A")
    expected = _expected(corpus, "common", node=half)
    assert expected and _walk_forward(corpus, "common", node=half) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the window is PostgreSQL's (SQLite's FTS5 is fast)")
def test_a_frequent_word_is_found_in_the_window_and_a_rare_one_through_the_index(corpus, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_WINDOW", 120)  # about 80 documents with "common": a whole page

    def page_sqls(q) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            selectors.document_page(project=corpus, q=q)
        return [c["sql"] for c in queries.captured_queries if "preview" in c["sql"]]

    frequent = page_sqls("common")
    assert len(frequent) == 1 and "IS TRUE" in frequent[0]  # tested row by row in the window only
    rare = page_sqls("rare")
    # the window held less than a page, so the index answered the whole search
    assert len(rare) == 2 and "IS TRUE" in rare[0] and "IS TRUE" not in rare[1]
