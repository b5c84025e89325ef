"""htc_evaluate --run RUN --split SPLIT [--json FILE] [--project NAME]: score stored predictions."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._common import run_by_name, validation_message
from classifiers.services import EVALUATION_LABELS, SPLITS, run_evaluate

SUMMARY = [
    ("micro_f1", "Micro-F1"),
    ("macro_f1", "Macro-F1"),
    ("c_micro_f1", "C-Micro-F1"),
    ("c_macro_f1", "C-Macro-F1"),
    ("p_micro_f1", "P-Micro-F1"),
    ("p_macro_f1", "P-Macro-F1"),
    ("h_precision", "hP"),
    ("h_recall", "hR"),
    ("h_f1", "hF"),
    ("exact_path_accuracy", "Exact path accuracy"),
    ("consistency", "Consistency"),
]


class Command(BaseCommand):
    help = "Evaluate a run's predictions on a split against the gold paths; print a table, optionally write JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--run", required=True, help="Run name.")
        parser.add_argument("--split", required=True, choices=SPLITS)
        parser.add_argument("--json", dest="json_file", help="Write all metrics to this JSON file.")
        parser.add_argument("--project", help="Project name, when several projects have a run of that name.")
        parser.add_argument(
            "--labels",
            choices=EVALUATION_LABELS,
            default="uploaded",
            help="Score against the uploaded gold as frozen (default) or the reviewed labels.",
        )

    def handle(self, *args, **options) -> None:
        run = run_by_name(options["run"], options["project"])
        try:
            evaluation = run_evaluate(run=run, split=options["split"], labels=options["labels"])
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        metrics = evaluation.metrics
        if options["json_file"]:
            payload = {
                "run": run.name,
                "project": run.project.name,
                "split": options["split"],
                "document_count": evaluation.document_count,
                **metrics,
            }
            try:
                Path(options["json_file"]).write_text(json.dumps(payload, indent=1, ensure_ascii=False))
            except OSError as exc:
                raise CommandError(f"Cannot write {options['json_file']}: {exc.strerror or exc}") from exc
        self.stdout.write(f"Run {run.name!r} on the {options['split']} split ({evaluation.document_count} documents)")
        for key, label in SUMMARY:
            if key in metrics:
                self.stdout.write(f"  {label:<22}{metrics[key]:.4f}")
        for level in metrics.get("per_level") or []:
            self.stdout.write(
                f"  level {level['level']}: micro-F1 {level['micro_f1']:.4f}  macro-F1 {level['macro_f1']:.4f}"
                f"  accuracy {level['accuracy']:.4f}"
            )
