"""Requeue or fail jobs whose worker stopped responding (lease expired)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from jobs.services import jobs_reap


class Command(BaseCommand):
    help = "Requeue (or fail, after max attempts) running jobs whose lease expired."

    def add_arguments(self, parser):
        parser.add_argument("--loop", type=float, default=0, help="Repeat every N seconds (0: run once).")

    def handle(self, *args, loop: float = 0, **options):
        while True:
            outcome = jobs_reap()
            self.stdout.write(
                f"requeued {len(outcome['requeued'])}, failed {len(outcome['failed'])}, "
                f"cancelled {len(outcome['cancelled'])}"
            )
            if not loop:
                return
            time.sleep(loop)
