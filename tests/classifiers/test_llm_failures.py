"""A prediction job's final state tells the truth about its LLM calls (issue 21, item 1 and the LLM half of 2).

A fake OpenAI-compatible server misbehaves on purpose; each case asserts the job's final state, its reason and the
answers that were kept (committed in small batches, so nothing received before a fatal error is lost)."""

from __future__ import annotations

import time

import pytest

from classifiers.models import Prediction
from classifiers.services import run_create, run_train
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create
from tests.endpoints.fake_llm import FakeLLM, context_window

GOOD = '{"label": "Football"}'
TEST_DOCS = 12  # the tiny corpus's test split


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch, settings, tmp_path):
    """Retries happen as in production, without the waits between them; each test has its own answer cache."""
    from classifiers.engine.llm.client import LLMClient

    monkeypatch.setattr(LLMClient, "_backoff", lambda self, attempt, retry_after: 0.0)
    settings.HTC_DATA_DIR = tmp_path


def _llm_run(project, owner, fake, settings, *, concurrency: int = 2, timeout: float = 60.0):
    from endpoints.services import endpoint_save

    settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
    endpoint_save(
        project=project,
        actor=owner,
        base_url=fake.base_url,
        model="fake-model",
        api_key="sk-test-0000",
        concurrency=concurrency,
        timeout=timeout,
    )
    run = run_create(project=project, strategy="llm-dl", shots=0, seed=1, name="llm", actor=owner)
    run_train(run=run)
    return run


def _predict_job(project, run, owner) -> Job:
    job = job_create(
        kind="predict",
        project=project,
        params={"run_id": run.pk, "split": "test"},
        created_by=owner,
        target_type="run",
        target_id=run.pk,
    )
    return job


def _slow(body: dict) -> str:
    time.sleep(2.5)
    return GOOD


def _huge(body: dict) -> str:
    return "x" * (5 * 1024 * 1024)


FAULTS = {
    "429 sustained": (("status", 429), "HTTP 429"),
    "500 to everything": (("status", 500), "HTTP 500"),
    "non-JSON body": (("garbage",), "unreadable response"),
    "answer past the timeout": (_slow, "did not answer within"),
    "5 MiB body": (_huge, "larger than"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_a_failing_endpoint_fails_the_job_with_the_reason_and_writes_no_empty_predictions(
    fault, corpus_project, owner, settings
):
    default, reason = FAULTS[fault]
    with FakeLLM(default=default) as fake:
        # A whole commit batch (8 documents) in flight at once: the timeouts (4 attempts of 1 s per call) overlap
        # instead of queueing two at a time (12 s -> 6 s); the job fails the same way, for the same reason.
        run = _llm_run(corpus_project, owner, fake, settings, timeout=1, concurrency=8)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
    assert job.state == Job.State.FAILED, (job.state, job.error)
    assert reason in job.error and "failed for" in job.error
    # No document got an answer: none is recorded as if it had (a retry predicts them all again).
    assert not Prediction.objects.filter(run=run).exists()
    run.refresh_from_db()
    assert run.stats["llm"]["failed"] >= 1 and reason in run.stats["llm"]["last_failure"]


@pytest.mark.django_db
def test_answers_received_before_a_refused_key_are_kept(corpus_project, owner, settings):
    with FakeLLM(script=[GOOD] * 5, default=("status", 401)) as fake:
        run = _llm_run(corpus_project, owner, fake, settings, concurrency=1)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
        calls = len(fake.chat_requests())
    assert job.state == Job.State.FAILED
    assert "refused the API key (HTTP 401)" in job.error and "5 of 12" in job.error
    kept = Prediction.objects.filter(run=run)
    assert kept.count() == 5 and all(p.valid and p.raw_output == GOOD for p in kept)
    assert calls == 6  # nothing is asked after the refusal


@pytest.mark.django_db
def test_a_label_list_too_long_for_the_model_fails_the_job_at_once_and_says_what_to_do(corpus_project, owner, settings):
    """The endpoint's context (here 20 tokens) cannot hold llm-dl's label list: one call, then the job fails with
    the sizes and the alternatives, not with twelve "HTTP 400"s."""
    with FakeLLM(default=context_window(20, GOOD)) as fake:
        run = _llm_run(corpus_project, owner, fake, settings, concurrency=1)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
        calls = len(fake.chat_requests())
    assert job.state == Job.State.FAILED and calls == 1
    assert "Every llm-dl prompt is at least" in job.error and "context window of 20 tokens" in job.error
    assert "Use llm-tmh" in job.error and "0 of 12" in job.error
    assert not Prediction.objects.filter(run=run).exists()


@pytest.mark.django_db
def test_a_tolerated_share_of_failures_lets_the_job_succeed_and_counts_them(corpus_project, owner, settings):
    settings.HTC_LLM_MAX_FAILED_SHARE = 0.25
    # The first document's call and its 3 retries get an unreadable body; every other document is answered.
    with FakeLLM(script=[("garbage",)] * 4, default=GOOD) as fake:
        run = _llm_run(corpus_project, owner, fake, settings, concurrency=1)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
    assert job.state == Job.State.SUCCEEDED, job.error
    run.refresh_from_db()
    assert run.stats["llm"]["failed"] == 1 and "unreadable" in run.stats["llm"]["last_failure"]
    assert Prediction.objects.filter(run=run).count() == TEST_DOCS  # the failure is recorded as invalid
    assert Prediction.objects.filter(run=run, valid=False).count() == 1


@pytest.mark.django_db
def test_the_run_page_shows_the_failed_documents_and_why(client, corpus_project, owner, settings):
    with FakeLLM(default=("status", 500)) as fake:
        run = _llm_run(corpus_project, owner, fake, settings)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
    client.force_login(owner)
    page = client.get(f"/projects/{corpus_project.pk}/classifiers/runs/{run.pk}/").content.decode()
    assert 'id="run-llm-failures"' in page and "HTTP 500" in page
    job_page = client.get(f"/projects/{corpus_project.pk}/jobs/{job.pk}/").content.decode()
    assert "HTTP 500" in job_page and "failed for" in job_page


@pytest.mark.django_db
def test_cancel_stops_the_llm_calls_and_keeps_the_answers(corpus_project, owner, settings, monkeypatch):
    from jobs.progress import Progress

    seen = {"requests": 0}

    def answer(body: dict) -> str:
        seen["requests"] += 1
        time.sleep(0.2)
        return GOOD

    original = Progress.cancel_requested

    def cancel_after_the_third_request(self):
        # The user presses Cancel once the endpoint has received its third request (written as the cancel view
        # does, on the job row; the job notices it through its own read of the flag).
        if seen["requests"] >= 3:
            Job.objects.filter(pk=self.job.pk).update(cancel_requested=True)
        return original(self)

    monkeypatch.setattr(Progress, "cancel_requested", cancel_after_the_third_request)
    with FakeLLM(default=answer) as fake:
        run = _llm_run(corpus_project, owner, fake, settings, concurrency=1)
        job = run_job_inline(_predict_job(corpus_project, run, owner), show_progress=False)
        calls = len(fake.chat_requests())
    assert job.state == Job.State.CANCELLED, (job.state, job.error)
    kept = Prediction.objects.filter(run=run)
    # The flag is read at most every 0.5 s, so a few more 0.2 s answers may arrive (and are kept), not all 12.
    assert 3 <= kept.count() <= 7 and calls <= kept.count() + 1
    assert f"{kept.count()} predictions of the test split" in job.message
    assert all(p.valid and p.raw_output == GOOD for p in kept)
