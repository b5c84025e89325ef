"""Background jobs: the Job row (state, progress, lease, cancel), dispatch, the worker and the reaper. Owns Job.
May import: projects; apps register their job handlers with jobs.registry, jobs imports none of them."""
