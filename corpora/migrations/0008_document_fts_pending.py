"""SQLite: an import's documents enter the FTS5 index after the import committed, as on PostgreSQL (0007).

The bulk writer lists the ids it wrote in `corpora_document_fts_pending` instead of indexing them in its
transaction (the FTS5 insert was about 40 % of a 20 Newsgroups import); `corpora.search.search_index_pending`
indexes them in committed chunks and removes them from the list, and a search tests the listed documents' text
directly until then. The index is external-content, so it must never be told to forget a row it does not hold:
the delete and update triggers leave listed rows alone (their next indexing reads the current text).
"""

from django.db import migrations

PENDING = "corpora_document_fts_pending"
NOT_PENDING = f"NOT EXISTS (SELECT 1 FROM {PENDING} WHERE id = old.id)"
FORWARD = [
    f"CREATE TABLE {PENDING} (id integer NOT NULL PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS corpora_document_fts_ad",
    "CREATE TRIGGER corpora_document_fts_ad AFTER DELETE ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    f"SELECT 'delete', old.id, old.external_id, old.text WHERE {NOT_PENDING}; "
    f"DELETE FROM {PENDING} WHERE id = old.id; END",
    "DROP TRIGGER IF EXISTS corpora_document_fts_au",
    "CREATE TRIGGER corpora_document_fts_au AFTER UPDATE OF external_id, text ON corpora_document "
    f"WHEN {NOT_PENDING} BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    "VALUES ('delete', old.id, old.external_id, old.text); "
    "INSERT INTO corpora_document_fts(rowid, external_id, text) VALUES (new.id, new.external_id, new.text); END",
]
BACKWARD = [
    # index what is still listed, then the triggers of 0004
    "INSERT INTO corpora_document_fts(rowid, external_id, text) SELECT d.id, d.external_id, d.text "
    f"FROM corpora_document d WHERE d.id IN (SELECT id FROM {PENDING})",
    "DROP TRIGGER IF EXISTS corpora_document_fts_ad",
    "CREATE TRIGGER corpora_document_fts_ad AFTER DELETE ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    "VALUES ('delete', old.id, old.external_id, old.text); END",
    "DROP TRIGGER IF EXISTS corpora_document_fts_au",
    "CREATE TRIGGER corpora_document_fts_au AFTER UPDATE OF external_id, text ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    "VALUES ('delete', old.id, old.external_id, old.text); "
    "INSERT INTO corpora_document_fts(rowid, external_id, text) VALUES (new.id, new.external_id, new.text); END",
    f"DROP TABLE IF EXISTS {PENDING}",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0007_document_search_vector_deferred"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
