"""Text search over documents with one query syntax on every database.

The query is split into words (letters and digits); a document matches when each word starts a word of its
text or id, in any order, case ignored ("river mount" finds "Mountain river"). SQLite answers from an FTS5
table over the documents (kept in step by triggers; the import fills it in bulk, `corpora.bulk`), PostgreSQL from
a GIN index on a `simple` tsvector column (migrations 0004-0007): both stay fast at a million documents, where a
substring scan does not.

Both indexes are kept by triggers, except for the rows a bulk import writes: those are indexed after the import
committed (`search_index_pending`; the import job does it as its last phase), so the import itself does not wait
for the text index. Until then a search tests those rows' text directly (PostgreSQL: rows without a vector, found
by a partial index; SQLite: the ids listed in SQLITE_FTS_PENDING, tested by `words_match`, a function registered
on every SQLite connection): results are the same either way, only slower meanwhile.
"""

from __future__ import annotations

import re

from django.db import connection, transaction
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

MAX_WORDS = 20
_WORD = re.compile(r"[^\W_]+")

SQLITE_FTS_TABLE = "corpora_document_fts"
# While this table has a row, the insert trigger does not index (migration 0006); only the bulk writer uses it.
SQLITE_FTS_PAUSED = "corpora_document_fts_paused"
# Ids written by an import and not yet in the FTS5 index (migration 0008; `search_index_pending` empties it).
SQLITE_FTS_PENDING = "corpora_document_fts_pending"
# One IN over both, the listed ids driving their join (CROSS JOIN fixes SQLite's join order): otherwise the
# planner walked every document and called the function on each (about 600 ms at 100,000 documents, not 26 ms).
SQLITE_MATCH = (
    "corpora_document.id IN (SELECT rowid FROM corpora_document_fts WHERE corpora_document_fts MATCH %s UNION ALL "
    "SELECT p.id FROM corpora_document_fts_pending p CROSS JOIN corpora_document d ON d.id = p.id "
    "WHERE htc_words_match(d.external_id || ' ' || d.text, %s))"
)
# search_vector: to_tsvector('simple', external_id || ' ' || text), or NULL until `search_index_pending` (0007).
POSTGRES_VECTOR = "to_tsvector('simple'::regconfig, corpora_document.external_id || ' ' || corpora_document.text)"
POSTGRES_MATCH = (
    "(corpora_document.search_vector @@ to_tsquery('simple'::regconfig, %s) OR (corpora_document.search_vector IS "
    f"NULL AND {POSTGRES_VECTOR} @@ to_tsquery('simple'::regconfig, %s)))"
)
# Set (SET LOCAL) by the bulk import: its rows are written without a vector (see the module docstring).
POSTGRES_DEFER_SETTING = "htc.defer_search"
SEARCH_INDEX_CHUNK = 5000
# The same test in a form no index can answer ("IS TRUE" of the match): the planner then walks the rows another
# condition already narrowed (an id window, see corpora.selectors.document_page) and tests each one.
POSTGRES_MATCH_ROWWISE = f"({POSTGRES_MATCH}) IS TRUE"


def query_words(q: str) -> list[str]:
    """The words of a search, lower case, at most MAX_WORDS."""
    return _WORD.findall(q.lower())[:MAX_WORDS]


def words_match(text: str | None, words: str | None) -> bool:
    """Whether every word of `words` (space-separated, from `query_words`) starts a word of `text`, case ignored:
    the search's rule, for documents not yet in SQLite's FTS5 index (registered as `htc_words_match`)."""
    if text is None or not words:
        return False
    lowered = text.lower()
    return all(re.search(r"(?<![^\W_])" + re.escape(word), lowered) for word in words.split(" "))


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: the SQL functions the search uses on SQLite."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("htc_words_match", 2, words_match, deterministic=True)


def filter_text(qs: QuerySet, q: str, *, rowwise: bool = False) -> QuerySet:
    """`qs` (documents) narrowed to those matching the search `q` (see the module docstring). `rowwise`: on
    PostgreSQL, test each row of `qs` instead of asking the text index for every match in the table (same rows;
    faster when `qs` is a small window of a large project and the words are frequent)."""
    words = query_words(q)
    if not words:  # only punctuation: a plain substring match (rare, and no index can help)
        return qs.filter(Q(text__icontains=q) | Q(external_id__icontains=q))
    if connection.vendor == "sqlite":
        match = " ".join(f'"{w}"*' for w in words)
        return qs.filter(RawSQL(SQLITE_MATCH, [match, " ".join(words)], output_field=BooleanField()))
    if connection.vendor == "postgresql":
        tsquery = " & ".join(f"{w}:*" for w in words)
        sql = POSTGRES_MATCH_ROWWISE if rowwise else POSTGRES_MATCH
        return qs.filter(RawSQL(sql, [tsquery, tsquery], output_field=BooleanField()))
    condition = Q()
    for w in words:
        condition &= Q(text__icontains=w) | Q(external_id__icontains=w)
    return qs.filter(condition)


def search_index_pending(*, progress=None, chunk: int = SEARCH_INDEX_CHUNK) -> int:
    """Index the documents a bulk import wrote without indexing them (PostgreSQL: their search vectors; SQLite: their
    FTS5 rows), in committed chunks of `chunk` documents; `progress(done, total)` after each. Returns how many were
    indexed. Safe to run at any time and from several processes at once (PostgreSQL skips the rows another one is
    indexing; SQLite serialises the writers and each chunk takes only what is still listed)."""
    if connection.vendor == "postgresql":
        count_sql, index_chunk = "SELECT count(*) FROM corpora_document WHERE search_vector IS NULL", _postgres_chunk
    elif connection.vendor == "sqlite":
        count_sql, index_chunk = f"SELECT count(*) FROM {SQLITE_FTS_PENDING}", _sqlite_chunk
    else:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(count_sql)
        total = cursor.fetchone()[0]
    done, last = 0, 0
    while total:
        with transaction.atomic(), connection.cursor() as cursor:
            ids = index_chunk(cursor, last, chunk)
        if not ids:
            break
        done, last = done + len(ids), max(ids)
        if progress is not None:
            progress(min(done, total), total)
    return done


def _postgres_chunk(cursor, after: int, chunk: int) -> list[int]:
    """Compute the vectors of the next `chunk` documents without one (above `after`); returns their ids."""
    cursor.execute(
        f"UPDATE corpora_document SET search_vector = {POSTGRES_VECTOR} WHERE id IN (SELECT id FROM corpora_document "
        "WHERE search_vector IS NULL AND id > %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING id",
        [after, chunk],
    )
    return [row[0] for row in cursor.fetchall()]


def _sqlite_chunk(cursor, after: int, chunk: int) -> list[int]:
    """Move the next `chunk` listed ids (above `after`) into the FTS5 index; returns them."""
    cursor.execute(f"SELECT id FROM {SQLITE_FTS_PENDING} WHERE id > %s ORDER BY id LIMIT %s", [after, chunk])
    ids = [row[0] for row in cursor.fetchall()]
    if ids:
        cursor.execute(
            f"INSERT INTO {SQLITE_FTS_TABLE} (rowid, external_id, text) SELECT d.id, d.external_id, d.text "
            f"FROM corpora_document d WHERE d.id IN (SELECT id FROM {SQLITE_FTS_PENDING} WHERE id BETWEEN %s AND %s)",
            [ids[0], ids[-1]],
        )
        cursor.execute(f"DELETE FROM {SQLITE_FTS_PENDING} WHERE id BETWEEN %s AND %s", [ids[0], ids[-1]])
    return ids
