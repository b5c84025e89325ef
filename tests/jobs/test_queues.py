"""Queues by resource: what each job kind needs, GPU presence, the worker's --queues, the job page's worker and
device; and "one worker runs one job" (prediction is chunked for retries, not shared between workers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from jobs.models import Job, WorkerPresence
from jobs.queues import detect_device, gpu_worker_present, presence_beat, queue_for
from jobs.services import job_claim, job_create, job_dispatch


def gpu_worker(seen_seconds_ago: float = 0) -> None:
    WorkerPresence.objects.create(
        name="gpu1",
        queues=["gpu"],
        device="cuda:0 (test)",
        seen_at=timezone.now() - timedelta(seconds=seen_seconds_ago),
    )


def run_job_row(project, owner, strategy: str, kind: str = "train", **params) -> Job:
    from classifiers.models import Run

    name = f"{strategy}-{kind}-{Run.objects.count()}"
    run = Run.objects.create(project=project, name=name, strategy=strategy, params=params, created_by=owner)
    return job_create(kind=kind, project=project, params={"run_id": run.pk, "split": "test"}, created_by=owner)


def test_imports_and_diagnostics_go_to_the_default_queue(job_project):
    assert job_create(kind="sleep_items", project=job_project).queue == "default"


def test_compute_work_goes_to_gpu_only_while_a_gpu_worker_is_alive(db, settings):
    settings.HTC_WORKER_SEEN_SECONDS = 60
    assert queue_for("compute") == "cpu"
    gpu_worker(seen_seconds_ago=300)  # a killed GPU worker's stale row
    assert not gpu_worker_present() and queue_for("compute") == "cpu"
    presence_beat(name="gpu1", queues=["gpu"], device="cuda:0 (test)")
    assert gpu_worker_present() and queue_for("compute") == "gpu"


def test_queue_names_are_settings(db, settings):
    settings.HTC_QUEUE_CPU = "small-boxes"
    settings.HTC_QUEUE_GPU = "big-box"
    assert queue_for("compute") == "small-boxes"
    presence_beat(name="g", queues=["big-box"], device="cuda:0")
    assert queue_for("compute") == "big-box" and queue_for("default") == "default"


def test_each_run_job_kind_declares_what_it_needs(project, owner):
    assert run_job_row(project, owner, "tfidf").queue == "cpu"  # scikit-learn training
    assert run_job_row(project, owner, "tfidf", kind="predict").queue == "default"
    assert run_job_row(project, owner, "llm-dl").queue == "default"  # waits on the endpoint
    assert run_job_row(project, owner, "llm-tmh", kind="predict").queue == "default"
    assert run_job_row(project, owner, "hierverb").queue == "cpu"  # torch, no GPU worker
    gpu_worker()
    assert run_job_row(project, owner, "hierverb").queue == "gpu"
    assert run_job_row(project, owner, "embed", kind="predict").queue == "gpu"  # encoding
    assert run_job_row(project, owner, "tfidf", kind="pipeline").queue == "cpu"
    weak = run_job_row(project, owner, "weak", scorer="llm-dl", base="tfidf")
    assert weak.queue == "cpu"
    cascade = run_job_row(project, owner, "cascade", stages=[{"strategy": "tfidf"}, {"strategy": "embed"}])
    assert cascade.queue == "gpu"
    assert run_job_row(project, owner, "auto").queue == "gpu"  # its default candidates include hierverb
    ensemble = run_job_row(project, owner, "ensemble", members=[{"strategy": "tfidf"}, {"strategy": "tfidf"}])
    assert ensemble.queue == "cpu"


def test_a_job_is_enqueued_on_its_queue(job_project, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "cpu", "gpu"]}}
    from django_tasks_db.models import DBTaskResult

    job = job_create(kind="sleep_items", project=job_project)
    Job.objects.filter(pk=job.pk).update(queue="cpu")
    with django_capture_on_commit_callbacks(execute=True):
        job_dispatch(job)
    assert list(DBTaskResult.objects.values_list("queue_name", flat=True)) == ["cpu"]


def test_claim_records_the_device_and_a_second_worker_cannot_claim(job_project):
    job = job_create(kind="sleep_items", project=job_project)
    claimed = job_claim(job_id=job.pk, worker="host-a:1:aa", device="cuda:0 (test)")
    assert (claimed.worker, claimed.device) == ("host-a:1:aa", "cuda:0 (test)")
    assert job_claim(job_id=job.pk, worker="host-b:2:bb", device="cpu") is None  # one worker runs one job


def test_the_job_page_shows_the_queue_worker_and_device(client, job_project):
    job = job_create(kind="sleep_items", project=job_project)
    job_claim(job_id=job.pk, worker="gpu-box:4242:ab12", device="cuda:0 (NVIDIA <H200>)")
    client.force_login(job_project.owner_user)
    page = client.get(reverse("jobs:detail", args=[job_project.pk, job.pk])).content.decode()
    assert "gpu-box:4242:ab12" in page and "cuda:0 (NVIDIA &lt;H200&gt;)" in page and "<td>default</td>" in page
    status = client.get(reverse("jobs:status", args=[job_project.pk, job.pk])).json()
    assert status["worker"] == "gpu-box:4242:ab12" and status["device"].startswith("cuda:0")


def test_worker_refuses_an_unknown_queue(db):
    with pytest.raises(CommandError, match="Unknown queue 'gpus'"):
        call_command("htc_worker", "--queues", "gpus,default", "--burst", "--no-reaper")


def test_worker_serves_only_the_queues_it_was_given_and_says_so(transactional_db, job_project, settings, capsys):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "cpu", "gpu"]}}
    on_cpu = job_create(kind="noop", project=job_project)
    Job.objects.filter(pk=on_cpu.pk).update(queue="cpu")
    job_dispatch(on_cpu)
    on_default = job_create(kind="noop", project=job_project)
    job_dispatch(on_default)

    call_command("htc_worker", "--queues", "default", "--device", "cpu", "--burst", "--no-reaper")
    assert "queues default, device cpu" in capsys.readouterr().out
    assert Job.objects.get(pk=on_default.pk).state == Job.State.SUCCEEDED
    assert Job.objects.get(pk=on_cpu.pk).state == Job.State.QUEUED  # nobody served cpu
    assert not WorkerPresence.objects.exists()  # a stopped worker removes its presence

    call_command("htc_worker", "--queues", "cpu", "--device", "cpu", "--burst", "--no-reaper")
    done = Job.objects.get(pk=on_cpu.pk)
    assert done.state == Job.State.SUCCEEDED and done.device == "cpu" and done.worker


def test_device_detection_names_cuda_or_cpu():
    device = detect_device()
    assert device == "cpu" or device.startswith("cuda:0 (")


def test_a_requeued_torch_job_leaves_the_gpu_queue_once_the_gpu_worker_is_gone(project, owner, settings):
    from jobs.services import job_requeue, jobs_reap

    settings.HTC_WORKER_SEEN_SECONDS = 60
    gpu_worker()
    job = run_job_row(project, owner, "hierverb")
    assert job.queue == "gpu"
    job_claim(job_id=job.pk, worker="gpu1:7:aa", device="cuda:0 (test)")
    WorkerPresence.objects.update(seen_at=timezone.now() - timedelta(seconds=300))  # killed: no more beats
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert jobs_reap()["requeued"] == [job.pk]
    assert Job.objects.get(pk=job.pk).queue == "cpu"
    # A GPU worker comes back: the next retry goes to it again.
    presence_beat(name="gpu2", queues=["gpu"], device="cuda:0 (test)")
    job_claim(job_id=job.pk, worker="cpu1:8:bb", device="cpu")
    assert job_requeue(job=Job.objects.get(pk=job.pk), reason="busy")
    assert Job.objects.get(pk=job.pk).queue == "gpu"
