"""PostgreSQL: the search vector becomes an ordinary column kept by a trigger, which an import may defer.

A stored generated column computed `to_tsvector` and fed the GIN index inside the import's transaction: nine
tenths of a 20 Newsgroups import (benchmarks/results/peers.md). Now a BEFORE trigger computes it for every insert
and for every change of the id or text, except inside a transaction that set `htc.defer_search = 'on'` (only the
bulk import does, corpora.bulk). Such rows keep a NULL vector; `corpora.search.search_index_pending` fills them in
after the import committed, and until then the search tests those rows' text directly (a partial index finds them),
so search results never depend on it having run. Existing rows are filled in here.
"""

from django.db import migrations

VECTOR = "to_tsvector('simple'::regconfig, {row}.external_id || ' ' || {row}.text)"
FORWARD = [
    "DROP INDEX IF EXISTS corpora_document_fts",
    "ALTER TABLE corpora_document DROP COLUMN IF EXISTS search_vector",
    "ALTER TABLE corpora_document ADD COLUMN search_vector tsvector NULL",
    f"UPDATE corpora_document SET search_vector = {VECTOR.format(row='corpora_document')}",
    "CREATE INDEX corpora_document_fts ON corpora_document USING gin (search_vector)",
    "CREATE INDEX corpora_document_unsearchable ON corpora_document (id) WHERE search_vector IS NULL",
    "CREATE FUNCTION corpora_document_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"NEW.search_vector := {VECTOR.format(row='NEW')}; RETURN NEW; END $$",
    "CREATE TRIGGER corpora_document_search_vector BEFORE INSERT OR UPDATE OF external_id, text "
    "ON corpora_document FOR EACH ROW "
    "WHEN (current_setting('htc.defer_search', true) IS DISTINCT FROM 'on') "
    "EXECUTE FUNCTION corpora_document_search_vector()",
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS corpora_document_search_vector ON corpora_document",
    "DROP FUNCTION IF EXISTS corpora_document_search_vector()",
    "DROP INDEX IF EXISTS corpora_document_unsearchable",
    "DROP INDEX IF EXISTS corpora_document_fts",
    "ALTER TABLE corpora_document DROP COLUMN IF EXISTS search_vector",
    "ALTER TABLE corpora_document ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, external_id || ' ' || text)) STORED",
    "CREATE INDEX corpora_document_fts ON corpora_document USING gin (search_vector)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0006_document_fts_bulk"),
    ]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
