"""htc_update_run --run OLD --name NEW [--rehearsal 0.3] [--epochs 2] [--project NAME] [--no-progress]"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from classifiers.growth import run_update_create
from classifiers.management.commands._common import run_by_name, run_job_foreground, validation_message


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = (
        "Update a trained run for the labels added since (split nodes, new sub-labels) instead of training from "
        "scratch: refit the changed label groups on the new documents plus a rehearsal sample, then predict and "
        "evaluate the test split and print the forgetting report."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--run", required=True, help="The trained run to update.")
        parser.add_argument("--name", required=True, help="Name of the new run (unique in the project).")
        parser.add_argument("--rehearsal", type=float, default=0.3, help="Share of old training documents replayed.")
        parser.add_argument("--epochs", type=int, default=2, help="Fine-tuning epochs (HierVerb only).")
        parser.add_argument("--project", default=None, help="Project name, when several projects have the run.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        parent = run_by_name(options["run"], options["project"])
        try:
            run = run_update_create(
                parent=parent, name=options["name"], rehearsal=options["rehearsal"], epochs=options["epochs"]
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        run_job_foreground(run=run, kind="update_labels", show_progress=not options["no_progress"])
        run.refresh_from_db()
        growth = run.stats["growth"]
        report = growth["forgetting"]
        old, new = report["old_labels"], report["new_labels"]
        self.stdout.write(
            f"Updated {parent.name!r} into {run.name!r} ({run.strategy}, taxonomy v{run.taxonomy_version}): "
            f"{len(growth['new_document_ids'])} new and {len(growth['rehearsal_document_ids'])} rehearsal documents."
        )
        self.stdout.write(
            f"Forgetting report ({report['split']} split):\n"
            f"  old labels: {old['documents']} documents, accuracy {_fmt(old['before'])} before, "
            f"{_fmt(old['after'])} after ({old['unchanged_predictions']} predictions unchanged)\n"
            f"  new labels: {new['documents']} documents, accuracy {_fmt(new['after'])}"
        )
