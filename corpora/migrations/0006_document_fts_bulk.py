"""SQLite: the import indexes its documents in one INSERT ... SELECT per batch instead of one trigger run per row.

The insert trigger now stands aside while `corpora_document_fts_paused` has a row. Only the bulk writer puts one
there, inside its own transaction, and removes it before the batch ends (`corpora.bulk`), so every other insert
is still indexed by the trigger and no other connection ever sees the table non-empty.
"""

from django.db import migrations

TRIGGER = (
    "CREATE TRIGGER corpora_document_fts_ai AFTER INSERT ON corpora_document {when}BEGIN "
    "INSERT INTO corpora_document_fts(rowid, external_id, text) VALUES (new.id, new.external_id, new.text); END"
)
FORWARD = [
    "CREATE TABLE corpora_document_fts_paused (id integer NOT NULL PRIMARY KEY)",
    "DROP TRIGGER IF EXISTS corpora_document_fts_ai",
    TRIGGER.format(when="WHEN NOT EXISTS (SELECT 1 FROM corpora_document_fts_paused) "),
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS corpora_document_fts_ai",
    TRIGGER.format(when=""),
    "DROP TABLE IF EXISTS corpora_document_fts_paused",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0005_document_search_vector"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
