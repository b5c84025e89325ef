"""Background jobs: the Job row (state, progress, lease, cancel, queue), dispatch, the worker and the reaper; owns Job
and WorkerPresence. May import projects and htc_app; apps register their handlers with jobs.registry, and jobs
imports none of them."""
