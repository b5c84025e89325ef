"""Text search: one syntax (every word starts a word of the text or id, any order, case ignored) answered by
FTS5 on SQLite and a tsvector GIN index on PostgreSQL, kept in step with imports and deletions."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from corpora import importing
from corpora.models import Corpus, Document
from corpora.search import SQLITE_FTS_PAUSED, SQLITE_FTS_TABLE, query_words
from corpora.selectors import documents_filtered
from corpora.services import corpus_import
from tests.corpora.helpers import unindexed

DOCS = [
    ("a1", "The Mountain river flows north"),
    ("a2", "River deltas and sea levels"),
    ("a3", "Mountains of data; rivers of tokens"),
    ("a4", "Über große Flüsse"),
    ("id-river-7", "nothing about water"),
    ("a6", "e-mail from the market"),
]


@pytest.fixture
def searchable(project, owner):
    data = "id,text\n" + "".join(f"{i},{t}\n" for i, t in DOCS)
    corpus_import(project=project, file_name="s.csv", fileobj=io.BytesIO(data.encode()), actor=owner)
    return project


def found(project, q: str) -> list[str]:
    return sorted(documents_filtered(project=project, q=q).values_list("external_id", flat=True))


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("river", ["a1", "a2", "a3", "id-river-7"]),
        ("RIVER mountain", ["a1", "a3"]),
        ("river north", ["a1"]),
        ("mount riv", ["a1", "a3"]),
        ("rivers mountains", ["a3"]),
        ("über", ["a4"]),
        ("flüsse GROSSE", []),  # no stemming or folding beyond case: the same on both databases
        ("große", ["a4"]),
        ("e-mail", ["a6"]),
        ("id river 7", ["id-river-7"]),
        ("a3", ["a3"]),
        ("ocean", []),
    ],
)
def test_words_match_word_starts_in_any_order_on_every_database(searchable, q, expected):
    assert found(searchable, q) == expected


def test_the_index_follows_imports_and_deletions(searchable, owner):
    corpus_import(
        project=searchable, file_name="t.csv", fileobj=io.BytesIO(b"id,text\nb1,another river\n"), actor=owner
    )
    assert found(searchable, "another") == ["b1"]
    Corpus.objects.get(name="t.csv").delete()
    assert found(searchable, "another") == []
    assert found(searchable, "river") == ["a1", "a2", "a3", "id-river-7"]


def test_search_uses_the_text_index(searchable):
    sql = str(documents_filtered(project=searchable, q="river").query)
    expected = {"sqlite": "corpora_document_fts MATCH", "postgresql": "to_tsquery('simple'"}[connection.vendor]
    assert expected in sql
    if connection.vendor == "sqlite":  # the not-yet-indexed part walks its short list, never every document
        qs = documents_filtered(project=searchable, q="river").order_by("id").values("id")[:51]
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            plan = [row[-1] for row in cursor.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
        assert "SCAN p" in plan and "SEARCH d USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
        assert not any(step.startswith("SCAN d") or step == "SCAN corpora_document" for step in plan), plan


def test_punctuation_only_falls_back_to_a_substring_match(searchable, owner):
    Document.objects.filter(external_id="a2").update(text="a ?! b")
    assert query_words("?!") == []
    assert found(searchable, "?!") == ["a2"]


def indexed_ids(word: str) -> list[int]:
    """Document ids the text index itself holds for `word` (FTS5's own rowids on SQLite, not the documents)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT rowid FROM {SQLITE_FTS_TABLE} WHERE {SQLITE_FTS_TABLE} MATCH %s", [word])
        else:
            cursor.execute("SELECT id FROM corpora_document WHERE search_vector @@ to_tsquery('simple', %s)", [word])
        return sorted(row[0] for row in cursor.fetchall())


def index_rows() -> int | None:
    """SQLite: how many documents the FTS5 index holds (its per-row size table); None elsewhere."""
    if connection.vendor != "sqlite":
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {SQLITE_FTS_TABLE}_docsize")
        rows = cursor.fetchone()[0]
        cursor.execute(f"SELECT COUNT(*) FROM {SQLITE_FTS_PAUSED}")
        assert cursor.fetchone()[0] == 0, "the trigger's pause outlived the import"
        return rows


def _many(n: int, last: str = "") -> bytes:
    return ("id,text\n" + "".join(f"m{i},unique{i}x shared words\n" for i in range(n)) + last).encode()


def test_a_failed_import_leaves_nothing_in_the_text_index(searchable, owner, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_MAX_ROWS", 7)  # several batches written and indexed before the bad line
    before = index_rows()
    with pytest.raises(ValidationError):
        corpus_import(project=searchable, file_name="bad.csv", fileobj=io.BytesIO(_many(30, "x,\n")), actor=owner)
    assert indexed_ids("shared") == [] and indexed_ids("unique3x") == []
    assert index_rows() == before
    assert found(searchable, "river") == ["a1", "a2", "a3", "id-river-7"]


def test_search_finds_every_document_of_an_import_right_after_it(searchable, owner, monkeypatch):
    monkeypatch.setattr(importing, "BATCH_MAX_ROWS", 7)
    corpus_import(project=searchable, file_name="many.csv", fileobj=io.BytesIO(_many(30)), actor=owner)
    assert [found(searchable, f"unique{i}x") for i in range(30)] == [[f"m{i}"] for i in range(30)]
    assert len(found(searchable, "shared words")) == 30
    assert index_rows() in (None, Document.objects.count())  # each document indexed once
    # Documents written outside the import are still indexed by the trigger.
    corpus = Corpus.objects.get(name="many.csv")
    Document.objects.create(project=searchable, corpus=corpus, external_id="late", text="afterwards")
    assert found(searchable, "afterwards") == ["late"]
    assert index_rows() in (None, Document.objects.count())


def fts_integrity_check() -> None:
    """SQLite: FTS5 compares its index with the documents (raises when a row is missing or extra)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {SQLITE_FTS_TABLE}({SQLITE_FTS_TABLE}) VALUES ('integrity-check')")


def test_an_import_that_defers_its_index_is_searched_the_same_before_and_after_it_is_filled(
    searchable, owner, monkeypatch
):
    from corpora.search import search_index_pending
    from corpora.selectors import document_page

    monkeypatch.setattr(importing, "BATCH_MAX_ROWS", 7)
    data = _many(30, "m30,river Mountain e-mail\n")
    corpus_import(project=searchable, file_name="late.csv", fileobj=io.BytesIO(data), actor=owner, index_search=False)
    assert unindexed() == 31  # the import indexed nothing; the documents imported before stay indexed
    assert indexed_ids("unique7x") == []
    queries = ["unique7x", "shared words", "river mount", "e-mail", "m30", "ocean", "UNIQUE1"]
    before = {q: found(searchable, q) for q in queries}
    page_before = [row["id"] for row in document_page(project=searchable, q="shared").rows]
    calls = []
    assert search_index_pending(progress=lambda d, t: calls.append((d, t)), chunk=8) == 31
    assert unindexed() == 0 and calls == [(8, 31), (16, 31), (24, 31), (31, 31)]
    assert {q: found(searchable, q) for q in queries} == before
    assert before["river mount"] == ["a1", "a3", "m30"] and len(before["shared words"]) == 30
    assert len(before["UNIQUE1"]) == 11  # unique1x, unique10x ... unique19x: word starts, case ignored
    assert [row["id"] for row in document_page(project=searchable, q="shared").rows] == page_before
    assert indexed_ids("unique7x") == [Document.objects.get(external_id="m7").pk]  # now from the index itself
    assert search_index_pending() == 0
    fts_integrity_check()


def test_documents_changed_or_deleted_before_they_are_indexed_keep_the_index_whole(searchable, owner):
    from corpora.search import search_index_pending

    corpus_import(
        project=searchable, file_name="late.csv", fileobj=io.BytesIO(_many(5)), actor=owner, index_search=False
    )
    Document.objects.filter(external_id="m1").update(text="glacier")  # changed while waiting to be indexed
    Document.objects.filter(external_id="m2").delete()  # deleted while waiting
    assert found(searchable, "glacier") == ["m1"] and found(searchable, "unique1x") == []
    fts_integrity_check()
    # SQLite indexes the changed one with the rest (its current text); PostgreSQL's trigger did when it changed
    assert search_index_pending() == {"sqlite": 4, "postgresql": 3}[connection.vendor]
    assert found(searchable, "glacier") == ["m1"] and found(searchable, "unique2x") == []
    assert indexed_ids("glacier") == [Document.objects.get(external_id="m1").pk]
    Corpus.objects.get(name="late.csv").delete()
    assert found(searchable, "shared") == [] and unindexed() == 0
    fts_integrity_check()


def test_documents_written_outside_an_import_are_indexed_at_once(searchable):
    corpus = Corpus.objects.first()
    doc = Document.objects.create(project=searchable, corpus=corpus, external_id="solo", text="glacier")
    assert indexed_ids("glacier") == [doc.pk] and unindexed() == 0
    Document.objects.filter(pk=doc.pk).update(text="volcano")  # a changed text is indexed again
    assert indexed_ids("glacier") == [] and indexed_ids("volcano") == [doc.pk]
    fts_integrity_check()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's TOAST compression")
@pytest.mark.django_db
def test_document_texts_are_compressed_with_lz4_where_the_server_has_it():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        has_lz4 = cursor.fetchone() is not None
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'corpora_document'::regclass AND attname = 'text'"
        )
        assert cursor.fetchone()[0] == ("l" if has_lz4 else "")
