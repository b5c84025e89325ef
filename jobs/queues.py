"""Queues by resource. Every job kind declares what it needs (jobs.registry.job_handler(kind, resource=...)):

- "default": light work and waiting on others (imports, evaluations, LLM calls);
- "cpu": CPU-bound work (training a scikit-learn model);
- "compute": torch training and encoding: the `gpu` queue when a worker serving it is alive, else `cpu`.

The queue names are settings (HTC_QUEUE_DEFAULT, HTC_QUEUE_CPU, HTC_QUEUE_GPU). Workers announce themselves
(WorkerPresence rows, refreshed while they run), so the app knows whether a GPU worker exists.
"""

from __future__ import annotations

import logging
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from jobs.models import WorkerPresence

logger = logging.getLogger(__name__)

DEFAULT = "default"
CPU = "cpu"
GPU = "gpu"
COMPUTE = "compute"
RESOURCES = (DEFAULT, CPU, GPU, COMPUTE)


def queue_names() -> dict[str, str]:
    """{resource: queue name} from the settings."""
    return {
        DEFAULT: getattr(settings, "HTC_QUEUE_DEFAULT", "default"),
        CPU: getattr(settings, "HTC_QUEUE_CPU", "cpu"),
        GPU: getattr(settings, "HTC_QUEUE_GPU", "gpu"),
    }


def all_queues() -> list[str]:
    """Every configured queue name, default first."""
    return list(dict.fromkeys(queue_names().values()))


def gpu_worker_present(now=None) -> bool:
    """True when a worker serving the gpu queue was seen within HTC_WORKER_SEEN_SECONDS."""
    now = now or timezone.now()
    gpu = queue_names()[GPU]
    cutoff = now - timedelta(seconds=int(getattr(settings, "HTC_WORKER_SEEN_SECONDS", 120)))
    rows = WorkerPresence.objects.filter(seen_at__gte=cutoff).values_list("queues", flat=True)
    return any(gpu in (queues or []) for queues in rows)


def queue_for(resource: str) -> str:
    """The queue a job needing `resource` goes to."""
    if resource not in RESOURCES:
        raise ValueError(f"Unknown job resource {resource!r}; use one of {', '.join(RESOURCES)}.")
    names = queue_names()
    if resource == COMPUTE:
        return names[GPU] if gpu_worker_present() else names[CPU]
    return names[resource]


def detect_device() -> str:
    """This machine's torch device in words: "cuda:0 (NVIDIA H200)" when CUDA is usable, else "cpu"."""
    try:
        import torch
    except ImportError:
        return "cpu"
    try:
        if torch.cuda.is_available():
            return f"cuda:0 ({torch.cuda.get_device_name(0)})"
    except Exception:  # a broken driver is a CPU machine for us
        logger.warning("CUDA is installed but not usable; this worker uses the CPU.", exc_info=True)
    return "cpu"


def default_worker_queues(device: str) -> list[str]:
    """What `htc_worker` serves without --queues: default and cpu, plus gpu on a machine with CUDA."""
    names = queue_names()
    chosen = [names[DEFAULT], names[CPU]] + ([names[GPU]] if device.startswith("cuda") else [])
    return list(dict.fromkeys(chosen))


def presence_beat(*, name: str, queues: list[str], device: str) -> None:
    """Record (or refresh) that worker `name` is alive and serves `queues` on `device`."""
    WorkerPresence.objects.update_or_create(
        name=name[:200],
        defaults={
            "host": socket.gethostname()[:200],
            "queues": queues,
            "device": device[:200],
            "seen_at": timezone.now(),
        },
    )


def presence_remove(*, name: str) -> None:
    WorkerPresence.objects.filter(name=name[:200]).delete()


def presence_prune(now=None) -> int:
    """Delete presence rows not refreshed for ten times HTC_WORKER_SEEN_SECONDS (killed workers)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=10 * int(getattr(settings, "HTC_WORKER_SEEN_SECONDS", 120)))
    deleted, _ = WorkerPresence.objects.filter(seen_at__lt=cutoff).delete()
    return deleted


class PresenceThread(threading.Thread):
    """Refreshes the worker's presence row every third of HTC_WORKER_SEEN_SECONDS until stop()."""

    def __init__(self, *, name: str, queues: list[str], device: str):
        super().__init__(name="htc-worker-presence", daemon=True)
        self.worker_name, self.queues, self.device = name, queues, device
        self.interval = max(1.0, int(getattr(settings, "HTC_WORKER_SEEN_SECONDS", 120)) / 3)
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    presence_beat(name=self.worker_name, queues=self.queues, device=self.device)
                    presence_prune()
                except OperationalError as exc:
                    logger.info("Worker presence not refreshed: %s", exc)
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)
