from django.apps import AppConfig


class CorporaConfig(AppConfig):
    name = "corpora"

    def ready(self) -> None:
        # Registers the "corpus_import" job handler, so workers find it.
        from corpora import jobs  # noqa: F401
