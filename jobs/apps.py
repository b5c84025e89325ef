from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"

    def ready(self) -> None:
        # The diagnostic kinds ("noop", "sleep_items") are always available to workers and benchmarks.
        from jobs import diagnostics, tasks  # noqa: F401  (tasks registers the task backend's entry point)
