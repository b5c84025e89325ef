"""Named, weighted phases: one bar that never goes back, a message that names the phase, a truthful end."""

from __future__ import annotations

import pytest

from jobs.models import Job
from jobs.progress import JobCancelled, PhasedProgress, Progress
from jobs.selectors import job_status
from jobs.services import job_claim, job_mark_cancelled, job_succeed

pytestmark = pytest.mark.django_db


def _running(job_project, kind="phased") -> tuple[Job, Progress]:
    job = Job.objects.create(project=job_project, kind=kind)
    job = job_claim(job_id=job.pk, worker="w1")
    return job, Progress(job, worker="w1", interval=0)


def test_progress_never_goes_back_across_phases_whose_totals_differ(job_project):
    # The old staged bar went from 98 % to 13 % when prediction (600 batches) followed training (100 steps).
    job, progress = _running(job_project)
    phased = PhasedProgress(
        progress, [("train", "Training", 0.7), ("predict", "Predicting", 0.25), ("eval", "Eval", 0.05)]
    )
    seen = []
    callback = phased.phase("train")
    for step in range(1, 101):
        callback(step, 100)
        seen.append(progress.percent)
    callback = phased.phase("predict")
    for batch in range(1, 601):
        callback(batch, 600)
        seen.append(progress.percent)
    phased.phase("eval")
    seen.append(progress.percent)
    assert seen == sorted(seen), "the overall bar went backwards"
    assert seen[99] == 70 and seen[-1] == 95
    job.refresh_from_db()
    assert [p["key"] for p in job.phases] == ["train", "predict", "eval"]
    assert job.message.startswith("Eval (step 3 of 3)")


def test_an_unannounced_second_step_in_a_phase_continues_from_where_the_phase_is(job_project):
    job, progress = _running(job_project)
    phased = PhasedProgress(progress, [("train", "Training", 1.0)])
    callback = phased.phase("train")
    phased.note("Encoding 200 documents", share=0.8)
    callback(100, 200)
    assert progress.percent == 40
    assert "Encoding 200 documents" in progress.message and "100 of 200" in progress.message
    callback(200, 200)
    assert progress.percent == 80
    phased.note("Fitting the classifier")
    callback(1, 4)  # a new total: a new step over the rest of the phase
    assert progress.percent == 85
    callback(4, 4)
    assert progress.percent == 100


def test_a_finished_job_shows_no_stale_progress_message(job_project):
    job, progress = _running(job_project)
    phased = PhasedProgress(progress, [("predict", "Predicting the test split", 1.0)])
    phased.phase("predict")(5, 10)
    assert job_succeed(job=job, worker="w1", result={"predicted": 10}, progress=progress)
    status = job_status(job=job)
    assert status["message"] == "Finished."
    assert status["phases"] == [
        {"key": "predict", "label": "Predicting the test split", "state": "done", "percent": 100}
    ]
    assert status["result"] == [["predicted", "10"]]


def test_a_cancelled_phased_job_says_what_was_kept_not_a_count_of_thousandths(job_project):
    job, progress = _running(job_project)
    phased = PhasedProgress(progress, [("train", "Training", 1.0)])
    phased.phase("train")(45, 695)
    progress.kept = "no model was kept: the run was not trained."
    assert job_mark_cancelled(job=job, worker="w1", progress=progress)
    job.refresh_from_db()
    assert job.state == Job.State.CANCELLED
    assert job.message == "Cancelled; no model was kept: the run was not trained."
    status = job_status(job=job)
    assert status["state_label"] == "Cancelled"
    assert status["phases"][0]["state"] == "stopped"


def test_status_json_carries_the_target_the_job_page_table_shows(job_project):
    job = Job.objects.create(project=job_project, kind="corpus_import", target_type="corpus")
    status = job_status(job=job)
    assert status["state_label"] == "Queued" and status["active"] is True
    assert status["target"]["id"] is None and status["target"]["label"] == "not created yet"
    Job.objects.filter(pk=job.pk).update(target_id=7, state=Job.State.SUCCEEDED, message="Importing rows")
    job.refresh_from_db()
    status = job_status(job=job)
    assert status["target"]["label"] == "corpus #7" and status["message"] == "Finished."
    assert status["progress_text"] == "done"


def test_cancel_from_the_engine_callback_is_raised_through_the_phases(job_project):
    job, progress = _running(job_project)
    phased = PhasedProgress(progress, [("train", "Training", 1.0)])
    callback = phased.phase("train")
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with pytest.raises(JobCancelled):
        callback(1, 10)
