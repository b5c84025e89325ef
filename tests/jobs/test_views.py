"""Jobs pages: permissions, the status JSON the poller reads, cancel, and escaping of error text."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from jobs.models import Job
from jobs.services import job_claim, job_create
from projects.models import Membership, Role


@pytest.fixture
def running_job(job_project):
    job = job_create(kind="sleep_items", project=job_project, params={"items": 4}, created_by=job_project.owner_user)
    job = job_claim(job_id=job.pk, worker="w1")
    Job.objects.filter(pk=job.pk).update(progress_done=1, progress_total=4, message="one of four")
    job.project = job_project  # keeps .owner_user for the tests
    return job


def member(project, quick_user, name, role):
    user = quick_user(name)
    Membership.objects.create(project=project, user=user, role=role)
    return user


def urls(job):
    args = [job.project_id, job.pk]
    return {
        "list": reverse("jobs:list", args=[job.project_id]),
        "detail": reverse("jobs:detail", args=args),
        "status": reverse("jobs:status", args=args),
        "cancel": reverse("jobs:cancel", args=args),
    }


def test_anonymous_users_are_sent_to_log_in(client, running_job):
    for name, url in urls(running_job).items():
        response = client.post(url) if name == "cancel" else client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], name
    assert Job.objects.get(pk=running_job.pk).cancel_requested is False


def test_non_members_get_404_everywhere(client, running_job, quick_user):
    client.force_login(quick_user("stranger"))
    for name, url in urls(running_job).items():
        response = client.post(url) if name == "cancel" else client.get(url)
        assert response.status_code == 404, name
    assert Job.objects.get(pk=running_job.pk).cancel_requested is False


def test_a_job_of_another_project_is_404(client, running_job, quick_user):
    from projects.models import Project

    other = Project.objects.create(name="Other")
    user = member(other, quick_user, "other-owner", Role.OWNER)
    client.force_login(user)
    response = client.get(reverse("jobs:status", args=[other.pk, running_job.pk]))
    assert response.status_code == 404


def test_status_json_reports_progress(client, running_job):
    client.force_login(running_job.project.owner_user)
    data = client.get(urls(running_job)["status"]).json()
    assert data["id"] == running_job.pk
    assert (data["state"], data["percent"], data["done"], data["total"]) == ("running", 25, 1, 4)
    assert data["message"] == "one of four" and data["error"] == "" and data["partial"] is False
    assert data["elapsed_seconds"] >= 0


def test_a_running_job_estimates_its_remaining_time_from_its_pace(client, running_job):
    from datetime import timedelta

    from django.utils import timezone

    Job.objects.filter(pk=running_job.pk).update(started_at=timezone.now() - timedelta(seconds=60))
    job = Job.objects.get(pk=running_job.pk)
    assert job.remaining_seconds == pytest.approx(180, abs=3)  # one of four steps in a minute: three minutes left
    client.force_login(running_job.project.owner_user)
    assert client.get(urls(running_job)["status"]).json()["remaining_seconds"] == pytest.approx(180, abs=3)
    assert re.search(r"about (2m 5\ds|3m \ds) left", client.get(urls(running_job)["detail"]).content.decode())
    Job.objects.filter(pk=running_job.pk).update(progress_done=0)
    assert Job.objects.get(pk=running_job.pk).remaining_seconds is None  # no pace yet
    assert client.get(urls(running_job)["status"]).json()["remaining_seconds"] is None
    Job.objects.filter(pk=running_job.pk).update(progress_done=4, state=Job.State.SUCCEEDED)
    assert Job.objects.get(pk=running_job.pk).remaining_seconds is None


def test_viewer_sees_jobs_but_cannot_cancel(client, running_job, quick_user):
    viewer = member(running_job.project, quick_user, "viewer", Role.VIEWER)
    client.force_login(viewer)
    page = client.get(urls(running_job)["list"])
    assert page.status_code == 200 and f"#{running_job.pk}" in page.content.decode()
    assert client.get(urls(running_job)["detail"]).status_code == 200
    assert client.post(urls(running_job)["cancel"]).status_code == 403
    assert Job.objects.get(pk=running_job.pk).cancel_requested is False


def test_annotator_cannot_cancel_someone_elses_job_but_owner_can(client, running_job, quick_user):
    annotator = member(running_job.project, quick_user, "annotator", Role.ANNOTATOR)
    client.force_login(annotator)
    assert client.post(urls(running_job)["cancel"]).status_code == 403
    client.force_login(running_job.project.owner_user)
    response = client.post(urls(running_job)["cancel"])
    assert response.status_code == 302 and response["Location"] == urls(running_job)["detail"]
    assert Job.objects.get(pk=running_job.pk).cancel_requested is True


def test_cancel_needs_post(client, running_job):
    client.force_login(running_job.project.owner_user)
    assert client.get(urls(running_job)["cancel"]).status_code == 405
    assert Job.objects.get(pk=running_job.pk).cancel_requested is False


def test_cancel_redirects_only_to_local_next_urls(client, running_job):
    client.force_login(running_job.project.owner_user)
    response = client.post(urls(running_job)["cancel"], {"next": "https://evil.example/"})
    assert response["Location"] == urls(running_job)["detail"]


def test_progress_include_polls_active_jobs_and_escapes_error_text(client, job_project):
    hostile = '<img src=x onerror="alert(1)">'
    failed = job_create(kind="noop", project=job_project)
    Job.objects.filter(pk=failed.pk).update(state=Job.State.FAILED, error=hostile)
    active = job_create(kind="noop", project=job_project)
    client.force_login(job_project.owner_user)
    html = client.get(reverse("jobs:list", args=[job_project.pk])).content.decode()
    assert hostile not in html and "&lt;img src=x onerror=" in html
    assert f'data-job-url="{reverse("jobs:status", args=[job_project.pk, active.pk])}"' in html
    assert reverse("jobs:status", args=[job_project.pk, failed.pk]) not in html  # finished jobs are not polled
    detail = client.get(reverse("jobs:detail", args=[job_project.pk, failed.pk])).content.decode()
    assert hostile not in detail and "What went wrong" in detail


@pytest.mark.django_db
def test_jobs_link_to_the_run_they_produce(project, owner):
    from classifiers.models import Run
    from jobs.registry import target_url
    from jobs.services import job_create

    run = Run.objects.create(project=project, name="r", strategy="tfidf")
    job = job_create(kind="pipeline", project=project, params={"run_id": run.pk}, target_type="run", target_id=run.pk)
    assert target_url(job) == f"/projects/{project.pk}/classifiers/runs/{run.pk}/"


def test_job_list_pages_keep_the_state_filter(client, job_project):
    for _ in range(51):  # one more than a page
        job_create(kind="sleep_items", project=job_project, params={"items": 1}, created_by=job_project.owner_user)
    client.force_login(job_project.owner_user)
    url = reverse("jobs:list", args=[job_project.pk])
    first = client.get(url, {"state": "queued"}).content.decode()
    assert 'href="?state=queued&amp;page=2" rel="next">Older</a>' in first and "Page 1 of 2" in first
    second = client.get(url, {"state": "queued", "page": 2}).content.decode()
    assert 'href="?state=queued&amp;page=1" rel="prev">Newer</a>' in second and 'rel="next"' not in second
    assert 'rel="prev"' not in client.get(url, {"state": "running"}).content.decode()  # one page: no links
