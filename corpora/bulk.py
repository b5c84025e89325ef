"""Bulk writes of documents and gold labels for the import, through the database driver (no model object per row).

SQLite: `executemany` of one prepared INSERT per table, with the per-row insert trigger standing aside and the
batch's ids listed for the FTS5 index instead. PostgreSQL: `COPY ... FROM STDIN` (psycopg 3), with the search
vector deferred (`htc.defer_search`). Both indexes are filled after the import commits
(`corpora.search.search_index_pending`). Document ids are chosen here (PostgreSQL: reserved from the table's
sequence; SQLite: after the largest id ever used, under the write lock the import transaction holds), so gold
labels are written without reading ids back.
Must be used inside the import's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from django.db import connection

from corpora.models import Document, GoldLabel
from corpora.search import POSTGRES_DEFER_SETTING, SQLITE_FTS_PAUSED, SQLITE_FTS_PENDING

POSTGRES_MAX_PARAMS = 65_535


def max_query_params() -> int:
    """The database's real limit on bound parameters in one statement (SQLite asks the library)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        try:
            return int(connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
        except AttributeError:  # Python < 3.11
            return 999
    if connection.vendor == "postgresql":
        return POSTGRES_MAX_PARAMS
    return connection.features.max_query_params or 1000


DOCUMENT_COLUMNS = ("id", "project", "corpus", "external_id", "text", "split", "meta", "length", "generated")
GOLD_COLUMNS = ("document", "node", "source")


def _columns(model, names: tuple[str, ...]) -> str:
    qn = connection.ops.quote_name
    return ", ".join(qn(model._meta.get_field(name).column) for name in names)


class DocumentWriter:
    """`write(rows)` inserts documents given as (external_id, text, split, meta, paths' node ids) tuples.

    Returns the new documents' ids in the order given.
    """

    def __init__(self, *, project_id: int, corpus_id: int):
        self.project_id = project_id
        self.corpus_id = corpus_id
        self.vendor = connection.vendor
        qn = connection.ops.quote_name
        self.doc_table = qn(Document._meta.db_table)
        self.gold_table = qn(GoldLabel._meta.db_table)
        self.doc_columns = _columns(Document, DOCUMENT_COLUMNS)
        self.gold_columns = _columns(GoldLabel, GOLD_COLUMNS)
        self._next_id: int | None = None

    def _reserve_ids(self, cursor, n: int) -> list[int]:
        if self.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Document._meta.db_table, n],
            )
            return [row[0] for row in cursor.fetchall()]
        if self._next_id is None:
            # The transaction holds SQLite's write lock, so nobody else can take ids until it commits. Past the
            # AUTOINCREMENT counter too: an id once used (then deleted) is never given again.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.doc_table}")
            largest = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = %s", [Document._meta.db_table]
            )
            self._next_id = max(largest, cursor.fetchone()[0]) + 1
        start = self._next_id
        self._next_id += n
        return list(range(start, start + n))

    def write(self, rows: list[tuple[str, str, str, dict, tuple[int, ...]]]) -> list[int]:
        if not rows:
            return []
        with connection.cursor() as cursor:
            ids = self._reserve_ids(cursor, len(rows))
            project, corpus = self.project_id, self.corpus_id
            docs = [
                (pk, project, corpus, ext, text, split, json.dumps(meta) if meta else "{}", len(text), False)
                for pk, (ext, text, split, meta, _) in zip(ids, rows, strict=True)
            ]
            gold = [(pk, node, "import") for pk, row in zip(ids, rows, strict=True) for node in row[4]]
            if self.vendor == "postgresql":
                # no search vector per row while these are copied (filled in after the commit); off again at once,
                # so that nothing else this transaction writes is deferred
                cursor.execute("SELECT set_config(%s, 'on', true)", [POSTGRES_DEFER_SETTING])
                self._copy(cursor, self.doc_table, self.doc_columns, docs)
                cursor.execute("SELECT set_config(%s, 'off', true)", [POSTGRES_DEFER_SETTING])
                self._copy(cursor, self.gold_table, self.gold_columns, gold)
            else:
                self._insert_indexed(cursor, docs, ids[0], ids[-1])
                cursor.executemany(f"INSERT INTO {self.gold_table} ({self.gold_columns}) VALUES (%s, %s, %s)", gold)
        return ids

    def _insert_indexed(self, cursor, docs: list[tuple], first: int, last: int) -> None:
        """SQLite: insert the documents with the trigger paused and list ids first..last for the FTS5 index, which
        `search.search_index_pending` fills after the commit.

        The pause row exists only inside this call and this transaction: a failure rolls it back with the rows.
        """
        marks = ", ".join(["%s"] * len(DOCUMENT_COLUMNS))
        cursor.execute(f"INSERT INTO {SQLITE_FTS_PAUSED} (id) VALUES (1)")
        cursor.executemany(f"INSERT INTO {self.doc_table} ({self.doc_columns}) VALUES ({marks})", docs)
        cursor.execute(
            f"INSERT INTO {SQLITE_FTS_PENDING} (id) SELECT id FROM {self.doc_table} WHERE id BETWEEN %s AND %s",
            [first, last],
        )
        cursor.execute(f"DELETE FROM {SQLITE_FTS_PAUSED}")

    @staticmethod
    def _copy(cursor, table: str, columns: str, rows: Iterable[tuple]) -> None:
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def set_splits(ids_by_split: dict[str, list[int]]) -> None:
    """UPDATE the split of the documents listed under each split name (in batches within the parameter limit)."""
    table = connection.ops.quote_name(Document._meta.db_table)
    split_col = connection.ops.quote_name(Document._meta.get_field("split").column)
    size = max(1, max_query_params() - 1)
    with connection.cursor() as cursor:
        for split, ids in ids_by_split.items():
            for start in range(0, len(ids), size):
                chunk = ids[start : start + size]
                if connection.vendor == "postgresql":
                    cursor.execute(f"UPDATE {table} SET {split_col} = %s WHERE id = ANY(%s)", [split, chunk])
                else:
                    marks = ", ".join(["%s"] * len(chunk))
                    cursor.execute(f"UPDATE {table} SET {split_col} = %s WHERE id IN ({marks})", [split, *chunk])
