"""The background worker: the configured task backend's worker loop plus the lease reaper.

Database backend (default): django-tasks-db's Worker on the project database.
RQ backend (HTC_TASKS_BACKEND=rq): an RQ worker (no fork per job, so models stay loaded) on the queues.
`--queues gpu,default` picks the queues it serves (default: default and cpu, plus gpu when CUDA is usable);
it prints its device and announces itself (jobs/queues.py) so torch jobs go to the gpu queue only while a
worker serves it.
SIGTERM/SIGINT: finish the current task, then exit; a second signal stops at once (the reaper requeues it).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from jobs import runner
from jobs.queues import PresenceThread, all_queues, default_worker_queues, detect_device, presence_beat, presence_remove
from jobs.reaper import ReaperThread
from jobs.services import jobs_reap

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the background worker (database or RQ backend) with the job reaper."

    def add_arguments(self, parser):
        parser.add_argument(
            "--queues",
            default="",
            help="Comma-separated queues to serve, e.g. gpu,default (default: default,cpu, plus gpu with CUDA).",
        )
        parser.add_argument("--queue", default="", help=argparse.SUPPRESS)  # the old single-queue spelling
        parser.add_argument(
            "--device", default="auto", help="auto (CUDA when usable, else cpu) or a name to report, e.g. cpu."
        )
        parser.add_argument("--interval", type=float, default=0.5, help="Database backend: poll interval in seconds.")
        parser.add_argument("--reap-interval", type=float, default=None, help="Seconds between reaper rounds.")
        parser.add_argument("--no-reaper", action="store_true", help="Do not run the reaper in this process.")
        parser.add_argument("--burst", action="store_true", help="Exit when the queue is empty (tests, benchmarks).")
        parser.add_argument("--name", default="", help="Worker name prefix (default: the host name).")

    def handle(self, *args, **options):
        from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends

        # Unique per process: RQ refuses a name still registered by a worker that was killed a moment ago.
        name = f"{options['name'] or socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"[-64:]
        backend = type(task_backends[DEFAULT_TASK_BACKEND_ALIAS]).__name__
        self._setup_logging(options["verbosity"])
        device = detect_device() if options["device"] == "auto" else options["device"]
        runner.WORKER_DEVICE = device
        queues = self._queues(options, device)
        options["queue_names"] = queues
        options["device_name"] = device

        reaper = None
        if not options["no_reaper"]:
            jobs_reap()  # jobs orphaned while no worker ran
            reaper = ReaperThread(options["reap_interval"])
            reaper.start()
        presence_beat(name=name, queues=queues, device=device)
        presence = PresenceThread(name=name, queues=queues, device=device)
        presence.start()
        try:
            if backend == "DatabaseBackend":
                self._run_db_worker(name, options)
            elif backend == "RQBackend":
                self._run_rq_worker(name, options)
            else:
                raise CommandError(
                    f"The {backend} task backend runs tasks where they are enqueued; there is nothing for a worker to do."
                )
        finally:
            presence.stop()
            if reaper is not None:
                reaper.stop()
            presence_remove(name=name)
            connection.close()

    def _queues(self, options: dict, device: str) -> list[str]:
        spelled = options["queues"] or options["queue"]
        queues = [q.strip() for q in spelled.split(",") if q.strip()] if spelled else default_worker_queues(device)
        known = all_queues()
        unknown = [q for q in queues if q not in known]
        if unknown:
            raise CommandError(f"Unknown queue {unknown[0]!r}; the configured queues are {', '.join(known)}.")
        return list(dict.fromkeys(queues))

    def _setup_logging(self, verbosity: int) -> None:
        level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
        for name in ("jobs", "django_tasks", "django_tasks_db"):
            logging.getLogger(name).setLevel(level)

    def _run_db_worker(self, name: str, options: dict) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(
            queue_names=options["queue_names"],
            interval=options["interval"],
            batch=options["burst"],
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=name,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        self.stdout.write(
            f"htc worker {name}: database backend, queues {','.join(options['queue_names'])}, "
            f"device {options['device_name']}"
        )
        worker.run()

    def _run_rq_worker(self, name: str, options: dict) -> None:
        import django_rq
        from django_rq.utils import reset_db_connections

        worker = django_rq.get_worker(
            *options["queue_names"], job_class="django_tasks_rq.Job", worker_class="rq.SimpleWorker", name=name
        )
        reset_db_connections()
        self.stdout.write(
            f"htc worker {name}: RQ backend, queues {','.join(options['queue_names'])}, device {options['device_name']}"
        )
        level = "WARNING" if options["verbosity"] == 0 else "INFO"
        worker.work(burst=options["burst"], logging_level=level, with_scheduler=False)
