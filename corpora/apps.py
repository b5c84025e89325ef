from django.apps import AppConfig


class CorporaConfig(AppConfig):
    name = "corpora"

    def ready(self) -> None:
        # Registers the "corpus_import" job handler, so workers find it.
        from django.db.backends.signals import connection_created

        from corpora import jobs  # noqa: F401
        from corpora.search import register_sqlite_functions

        connection_created.connect(register_sqlite_functions, dispatch_uid="corpora-sqlite-functions")
