"""htc_generate_examples --project NAME [--per-leaf N] [--max-llm-calls N]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._common import project_by_name
from classifiers.management.commands.htc_enrich_taxonomy import run_coldstart_job


class Command(BaseCommand):
    help = (
        "Ask the project's LLM for short example documents per leaf path. They are stored as documents marked "
        "generated (train split, labelled with their path): weak runs train on them, evaluations never count them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--per-leaf", type=int, default=3, help="Examples per leaf path [3].")
        parser.add_argument("--max-llm-calls", type=int, default=500, help="At most this many LLM calls [500].")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        project = project_by_name(options["project"])
        if not 1 <= options["per_leaf"] <= 20:
            raise CommandError("--per-leaf must be between 1 and 20.")
        params = {"per_leaf": options["per_leaf"], "max_llm_calls": options["max_llm_calls"]}
        job = run_coldstart_job(
            project=project, kind="examples_generate", params=params, show_progress=not options["no_progress"]
        )
        r = job.result
        llm = r.get("llm") or {}
        self.stdout.write(
            f"Wrote {r.get('documents', 0)} generated documents for {r.get('leaves_asked', 0)} leaf paths "
            f"({llm.get('calls', 0)} LLM calls, {llm.get('errors', 0)} paths without a usable answer)."
        )
        for label, reason in (r.get("llm_errors") or {}).items():
            self.stderr.write(f"  {label}: {reason}")
