"""PostgreSQL: keep each document's tsvector in a stored generated column with the GIN index on it, so a search
that matches many documents rechecks stored vectors instead of re-parsing every matching text."""

from django.db import migrations

FORWARD = [
    "DROP INDEX IF EXISTS corpora_document_fts",
    "ALTER TABLE corpora_document ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, external_id || ' ' || text)) STORED",
    "CREATE INDEX corpora_document_fts ON corpora_document USING gin (search_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS corpora_document_fts",
    "ALTER TABLE corpora_document DROP COLUMN IF EXISTS search_vector",
    "CREATE INDEX corpora_document_fts ON corpora_document "
    "USING gin (to_tsvector('simple'::regconfig, external_id || ' ' || text))",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0004_document_text_search"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
