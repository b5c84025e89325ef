"""htc_predict --run RUN --split SPLIT [--project NAME]: predict a split with a trained run."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from classifiers.management.commands._common import run_by_name, run_job_foreground
from classifiers.services import SPLITS


class Command(BaseCommand):
    help = "Predict every document of a split not yet predicted by the run (idempotent), with a progress bar."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--run", required=True, help="Run name.")
        parser.add_argument("--split", required=True, choices=SPLITS)
        parser.add_argument("--project", help="Project name, when several projects have a run of that name.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        run = run_by_name(options["run"], options["project"])
        job = run_job_foreground(
            run=run, kind="predict", split=options["split"], show_progress=not options["no_progress"]
        )
        written = (job.result or {}).get("predicted", 0)
        total = run.predictions.count()
        self.stdout.write(
            f"Predicted {written} new documents on the {options['split']} split; the run has {total} predictions."
        )
