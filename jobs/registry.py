"""Job kinds and their handlers. A handler does the work of one job kind:

    @job_handler("corpus_import")
    def run_import(job: Job, progress: Progress) -> dict | None:
        progress.set_total(n)
        for chunk in ...:
            ...
            progress.advance(len(chunk))   # heartbeats, extends the lease, raises JobCancelled on cancel
        return {"documents": n}            # stored in job.result

Handlers must be idempotent per piece of work: a job may be run again after a worker dies.
"""

from __future__ import annotations

from collections.abc import Callable

HANDLERS: dict[str, Callable] = {}


def job_handler(kind: str) -> Callable[[Callable], Callable]:
    def register(func: Callable) -> Callable:
        HANDLERS[kind] = func
        return func

    return register


def handler_for(kind: str) -> Callable:
    try:
        return HANDLERS[kind]
    except KeyError as exc:
        raise LookupError(f"No handler registered for job kind {kind!r}") from exc
