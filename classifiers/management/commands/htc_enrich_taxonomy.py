"""htc_enrich_taxonomy --project NAME [--llm | --llm-only] [--top-k N] [--rounds N] [--replace-edited]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._common import project_by_name


def run_coldstart_job(*, project, kind: str, params: dict, show_progress: bool):
    """Run a cold-start job here with a tqdm bar; CommandError when it does not succeed. Returns the job."""
    from classifiers.coldstart import COLDSTART_JOBS
    from jobs.models import Job
    from jobs.runner import run_job_inline
    from jobs.services import job_create

    job = job_create(kind=kind, project=project, params=params, target_type=COLDSTART_JOBS[kind], target_id=project.pk)
    job = run_job_inline(job, show_progress=show_progress)
    job.refresh_from_db()
    if job.state != Job.State.SUCCEEDED:
        raise CommandError(f"The {kind} job {job.state}: {job.error or job.message or 'no details'}")
    return job


class Command(BaseCommand):
    help = (
        "Find class-indicative terms for every label: mined from the project's documents (zero-shot scores say "
        "which documents each label likely holds) and/or asked from the project's LLM endpoint. Terms a person "
        "edited are kept unless --replace-edited."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="Project name.")
        parser.add_argument("--llm", action="store_true", help="Also ask the project's LLM for terms per label.")
        parser.add_argument("--llm-only", action="store_true", help="Ask only the LLM (no corpus mining).")
        parser.add_argument("--top-k", type=int, default=8, help="Terms per label from each source [8].")
        parser.add_argument("--replace-edited", action="store_true", help="Replace terms a person gave too.")
        parser.add_argument("--rounds", type=int, default=2, help="Mining rounds (each rescoring with the terms) [2].")
        parser.add_argument("--max-documents", type=int, default=20_000, help="Documents scored (a seeded sample).")
        parser.add_argument("--max-llm-calls", type=int, default=500, help="At most this many LLM calls [500].")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options) -> None:
        project = project_by_name(options["project"])
        if not 1 <= options["top_k"] <= 50:
            raise CommandError("--top-k must be between 1 and 50.")
        params = {
            "top_k": options["top_k"],
            "corpus": not options["llm_only"],
            "llm": options["llm"] or options["llm_only"],
            "replace_edited": options["replace_edited"],
            "max_documents": options["max_documents"],
            "max_llm_calls": options["max_llm_calls"],
            "rounds": options["rounds"],
        }
        job = run_coldstart_job(
            project=project, kind="taxonomy_enrich", params=params, show_progress=not options["no_progress"]
        )
        r = job.result
        self.stdout.write(
            f"Enriched {r.get('updated', 0)} of {r.get('nodes', 0)} labels ({r.get('source')}; "
            f"{r.get('documents', 0)} documents scored; {r.get('kept_edited', 0)} with edited terms kept)."
        )
        if "llm" in r:
            llm = r["llm"]
            self.stdout.write(
                f"LLM: {llm.get('calls', 0)} calls, {llm.get('prompt_tokens', 0)} prompt + "
                f"{llm.get('completion_tokens', 0)} completion tokens, {llm.get('errors', 0)} labels without an answer."
            )
            for label, reason in (r.get("llm_errors") or {}).items():
                self.stderr.write(f"  {label}: {reason}")
