"""Job kinds and their handlers. A handler does the work of one job kind:

    @job_handler("corpus_import")
    def run_import(job: Job, progress: Progress) -> dict | None:
        progress.set_total(n)
        for chunk in ...:
            ...
            progress.advance(len(chunk))   # heartbeats, extends the lease, raises JobCancelled on cancel
        return {"documents": n}            # stored in job.result

Handlers must be idempotent per piece of work: a job may be run again after a worker dies.

Each kind declares the resource it needs (jobs/queues.py): `@job_handler("train", resource=fn)`, where the
resource is "default" (the default), "cpu", "gpu", "compute" (gpu when a GPU worker exists, else cpu), or a
function of the job's params returning one of those.
"""

from __future__ import annotations

from collections.abc import Callable

HANDLERS: dict[str, Callable] = {}
RESOURCES: dict[str, str | Callable[[dict], str]] = {}


def job_handler(kind: str, *, resource: str | Callable[[dict], str] = "default") -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        RESOURCES[kind] = resource
        return func

    return register


def resource_for(kind: str, params: dict) -> str:
    """The resource a job of `kind` with `params` needs ("default", "cpu", "gpu" or "compute")."""
    resource = RESOURCES.get(kind, "default")
    return resource(params) if callable(resource) else resource


def handler_for(kind: str) -> Callable:
    try:
        return HANDLERS[kind]
    except KeyError as exc:
        raise LookupError(f"No handler registered for job kind {kind!r}") from exc


# The task backend's entry point: jobs/tasks.py registers `task_for_queue` when the app loads. Services hand job ids
# to it through `enqueue` without importing the task module (which runs the runner, which uses the services).
_TASK_FOR_QUEUE: list[Callable] = []


def task_backend(task_for_queue: Callable) -> Callable:
    _TASK_FOR_QUEUE[:] = [task_for_queue]
    return task_for_queue


def enqueue(job_id: int, queue: str):
    """Hand a job id to the task backend on `queue`; returns the backend's result (its id)."""
    return _TASK_FOR_QUEUE[0](queue).enqueue(job_id=job_id)


# Links from a job to what it produces: each app registers a resolver for its target_type in its ready():
#
#     @job_target("run")
#     def run_url(job) -> str | None:
#         return reverse("classifiers:run_detail", args=[job.project_id, job.target_id])
TARGETS: dict[str, Callable] = {}


def job_target(target_type: str) -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        TARGETS[target_type] = func
        return func

    return register


def target_url(job) -> str | None:
    """The URL of the job's target, or None when its type has no registered resolver or it cannot be built."""
    resolver = TARGETS.get(job.target_type)
    if resolver is None or job.target_id is None:
        return None
    try:
        return resolver(job)
    except Exception:  # a deleted target or a renamed route must not break the jobs page
        return None


# The state of a job's target in words, so a page that shows it (a run's badge) follows the job's poller:
#
#     @job_target_state("run")
#     def run_state(job) -> tuple[str, str] | None:   # ("cancelled", "Cancelled")
STATES: dict[str, Callable] = {}


def job_target_state(target_type: str) -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        STATES[target_type] = func
        return func

    return register


def target_state(job) -> tuple[str, str] | None:
    """(state, label) of the job's target, or None when its type has no resolver or the target is gone."""
    resolver = STATES.get(job.target_type)
    if resolver is None or job.target_id is None:
        return None
    try:
        return resolver(job)
    except Exception:  # a deleted target must not break the poller
        return None
