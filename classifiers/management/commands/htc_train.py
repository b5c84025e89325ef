"""htc_train --project NAME [--strategy auto] --shots K --seed N --run RUN [--param KEY=VALUE ...] [--corrector crf]
[--budget-minutes M]"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from classifiers.engine import registry
from classifiers.management.commands._common import project_by_name, run_job_foreground, validation_message
from classifiers.services import parse_params, run_create


class Command(BaseCommand):
    help = "Create a run (sampling K documents per leaf path of the train split) and train it in the foreground."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument(
            "--strategy",
            default="auto",
            help=f"One of: {', '.join(sorted(registry.STRATEGIES))} (default auto: the best on dev of those that fit).",
        )
        parser.add_argument("--shots", type=int, required=True, help="Documents per leaf path; 0 = whole train split.")
        parser.add_argument("--seed", type=int, default=550)
        parser.add_argument("--run", required=True, help="Name of the new run (unique in the project).")
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="Strategy parameter; the value is read as JSON when possible. Repeatable.",
        )
        parser.add_argument("--corrector", default="", choices=["", "crf"], help="Post-correct paths with the CRF.")
        parser.add_argument(
            "--budget-minutes",
            type=float,
            default=None,
            help="With --strategy auto: bound the training time (candidates that would not fit are skipped).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        project = project_by_name(options["project"])
        if options["shots"] < 0:
            raise CommandError("--shots must be 0 (the whole training split) or more.")
        try:
            params = parse_params(options["param"])
            if options["budget_minutes"] is not None:
                if options["strategy"] != "auto":
                    raise CommandError("--budget-minutes applies to --strategy auto only.")
                if options["budget_minutes"] <= 0:
                    raise CommandError("--budget-minutes must be more than 0.")
                params["budget_minutes"] = options["budget_minutes"]
            run = run_create(
                project=project,
                strategy=options["strategy"],
                params=params,
                shots=options["shots"],
                seed=options["seed"],
                corrector=options["corrector"],
                name=options["run"],
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        run_job_foreground(run=run, kind="train", show_progress=not options["no_progress"])
        run.refresh_from_db()
        self.stdout.write(
            f"Trained run {run.name!r} ({run.strategy}, {len(run.train_document_ids)} training documents, "
            f"taxonomy v{run.taxonomy_version}) in {run.train_seconds or 0:.1f} s."
        )
