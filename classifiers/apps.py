from django.apps import AppConfig


class ClassifiersConfig(AppConfig):
    name = "classifiers"

    def ready(self) -> None:
        from django.conf import settings

        # Registers the train / predict / evaluate / pipeline job handlers.
        from classifiers import jobs  # noqa: F401
        from classifiers.engine.config import configure

        # The engine reads no settings itself: it is handed them here, once.
        configure(
            encoder_path=settings.HTC_ENCODER_PATH,
            embedding_model_path=settings.HTC_EMBEDDING_MODEL_PATH,
            torch_threads=settings.HTC_TORCH_THREADS,
            device=settings.HTC_DEVICE,
            llm_allowed_hosts=settings.HTC_LLM_ALLOWED_HOSTS,
        )
