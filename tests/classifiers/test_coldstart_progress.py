"""Cold-start jobs report progress like every other job: named, weighted phases on one bar that never goes back,
each report with a message saying what is being done."""

from __future__ import annotations

import json
import re

import pytest

from jobs.runner import run_job_inline
from jobs.services import job_create
from tests.classifiers.conftest import assert_phased
from tests.endpoints.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db


def test_enrich_job_reports_named_phases_with_the_encoding_and_mining_steps(corpus_project, reports):
    job = job_create(kind="taxonomy_enrich", project=corpus_project, params={"top_k": 4}, target_type="taxonomy")
    job = run_job_inline(job, show_progress=False)
    messages = assert_phased(job, reports, ["corpus", "store"])
    assert any(
        m.startswith("Scoring the corpus zero-shot and mining terms (step 1 of 2): Encoding 42 documents")
        for m in messages
    )
    assert any("mining terms (2 rounds)" in m for m in messages)
    assert messages[-1].startswith("Storing the terms (step 2 of 2)")
    assert job.percent == 100


def _examples(body: dict) -> str:
    leaf = re.search(r'category path "([^"]+)"', body["messages"][-1]["content"]).group(1).split(" > ")[-1]
    return json.dumps({"documents": [f"A first short text about {leaf} things.", f"Another text on {leaf} topics."]})


def test_examples_job_reports_the_llm_calls_then_the_storing(corpus_project, owner, settings, tmp_path, reports):
    from endpoints.services import endpoint_save

    settings.HTC_DATA_DIR = tmp_path
    with FakeLLM(default=_examples) as fake:
        settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
        endpoint_save(project=corpus_project, actor=owner, base_url=fake.base_url, model="fake-model", api_key="")
        job = job_create(kind="examples_generate", project=corpus_project, params={"per_leaf": 2})
        job = run_job_inline(job, show_progress=False)
    messages = assert_phased(job, reports, ["llm", "store"])
    assert any(
        m.startswith("Asking the LLM for examples (step 1 of 2): one call per leaf path, 6 leaves · 3 of 6")
        for m in messages
    )
    assert messages[-1].startswith("Storing the examples (step 2 of 2)")
    assert job.result["documents"] == 12
