"""Full-text search over documents: an FTS5 table kept in step by triggers on SQLite, a GIN index over a
tsvector expression on PostgreSQL (corpora.search holds the matching query)."""

from django.db import migrations

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE corpora_document_fts USING fts5(external_id, text, content='corpora_document', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER corpora_document_fts_ai AFTER INSERT ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(rowid, external_id, text) VALUES (new.id, new.external_id, new.text); END",
    "CREATE TRIGGER corpora_document_fts_ad AFTER DELETE ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    "VALUES ('delete', old.id, old.external_id, old.text); END",
    "CREATE TRIGGER corpora_document_fts_au AFTER UPDATE OF external_id, text ON corpora_document BEGIN "
    "INSERT INTO corpora_document_fts(corpora_document_fts, rowid, external_id, text) "
    "VALUES ('delete', old.id, old.external_id, old.text); "
    "INSERT INTO corpora_document_fts(rowid, external_id, text) VALUES (new.id, new.external_id, new.text); END",
    "INSERT INTO corpora_document_fts(corpora_document_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS corpora_document_fts_ai",
    "DROP TRIGGER IF EXISTS corpora_document_fts_ad",
    "DROP TRIGGER IF EXISTS corpora_document_fts_au",
    "DROP TABLE IF EXISTS corpora_document_fts",
]
POSTGRES_CREATE = [
    "CREATE INDEX corpora_document_fts ON corpora_document "
    "USING gin (to_tsvector('simple'::regconfig, external_id || ' ' || text))",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS corpora_document_fts"]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0003_document_generated"),
    ]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        ),
    ]
