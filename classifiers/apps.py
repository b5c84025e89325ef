from django.apps import AppConfig


class ClassifiersConfig(AppConfig):
    name = "classifiers"

    def ready(self) -> None:
        # Registers the train / predict / evaluate / pipeline job handlers.
        from classifiers import jobs  # noqa: F401
