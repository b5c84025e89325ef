from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        # The diagnostic kinds ("noop", "sleep_items") are always available to workers and benchmarks.
        from jobs import diagnostics  # noqa: F401
