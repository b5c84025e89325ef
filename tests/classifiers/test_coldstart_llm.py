"""Cold start with the project's LLM endpoint (the fake server): terms per label, generated examples, weak runs."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from corpora.models import Document, GoldLabel
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create
from taxonomies.models import Node
from tests.endpoints.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db
SECRET = "sk-test-COLD-5678abcd"


@pytest.fixture
def endpoint(corpus_project, owner, settings, tmp_path):
    """Start a fake LLM (answering with `answer(request body)`) and point the project at it."""
    from endpoints.services import endpoint_save

    settings.HTC_DATA_DIR = tmp_path  # a response cache of this test's own

    started: list[FakeLLM] = []

    def start(answer) -> FakeLLM:
        fake = FakeLLM(default=answer).__enter__()
        started.append(fake)
        settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
        endpoint_save(project=corpus_project, actor=owner, base_url=fake.base_url, model="fake-model", api_key=SECRET)
        return fake

    yield start
    for fake in started:
        fake.__exit__(None, None, None)


def _prompt(body: dict) -> str:
    return body["messages"][-1]["content"]


def _category(body: dict) -> str:
    return re.search(r'the category "([^"]+)" sits', _prompt(body)).group(1)


def _job(project, kind: str, **params) -> Job:
    return run_job_inline(job_create(kind=kind, project=project, params=params), show_progress=False)


def test_llm_terms_are_asked_with_the_parent_context_and_stored(corpus_project, endpoint):
    fake = endpoint(lambda body: json.dumps({"terms": [f"{_category(body).lower()} word", "shared", "x" * 200]}))
    job = _job(corpus_project, "taxonomy_enrich", corpus=False, llm=True, top_k=5)
    assert job.state == Job.State.SUCCEEDED, job.error
    football = Node.objects.get(pk=corpus_project.nodes[("Sports", "Football")].pk)
    # The over-long term is dropped as invalid; the others are kept in order.
    assert (football.terms, football.terms_source) == (["football word", "shared"], "llm")
    prompts = [_prompt(r["body"]) for r in fake.chat_requests()]
    assert len(prompts) == 9 == job.result["llm"]["calls"]
    football_prompt = next(p for p in prompts if '"Football" sits' in p)
    assert '"Sports" (its parent)' in football_prompt and '"Tennis"' in football_prompt
    assert job.result["llm"]["prompt_tokens"] == 90 and job.result["llm"]["completion_tokens"] == 18
    assert all(r["authorization"] == f"Bearer {SECRET}" for r in fake.chat_requests())
    assert SECRET not in json.dumps(job.params) + json.dumps(job.result)


def test_llm_garbage_stores_no_terms_and_says_why(corpus_project, endpoint):
    endpoint("Sure! Good terms would be goal, striker and penalty.")
    job = _job(corpus_project, "taxonomy_enrich", corpus=False, llm=True)
    assert job.state == Job.State.FAILED
    assert "no usable terms" in job.error and "not a JSON object" in job.error
    assert not Node.objects.filter(taxonomy=corpus_project.taxonomy).exclude(terms=[]).exists()


def test_llm_failures_for_some_labels_are_recorded_and_the_corpus_terms_still_stored(corpus_project, endpoint):
    def answer(body):
        return '{"terms": [1, 2]}' if _category(body) == "Tennis" else json.dumps({"terms": ["llm term"]})

    endpoint(answer)
    job = _job(corpus_project, "taxonomy_enrich", corpus=True, llm=True, top_k=4)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["llm"]["errors"] == 1 and "Sports > Tennis" in job.result["llm_errors"]
    tennis = Node.objects.get(pk=corpus_project.nodes[("Sports", "Tennis")].pk)
    football = Node.objects.get(pk=corpus_project.nodes[("Sports", "Football")].pk)
    assert "llm term" not in tennis.terms and tennis.terms  # mined terms only
    assert football.terms[-1] == "llm term" and football.terms_source == "mined+llm"


def _examples(body: dict) -> str:
    path = re.search(r'category path "([^"]+)"', _prompt(body)).group(1)
    leaf = path.split(" > ")[-1]
    return json.dumps({"documents": [f"A first short text about {leaf} things.", f"Another text on {leaf} topics."]})


def test_generated_examples_are_stored_marked_and_never_evaluated(corpus_project, endpoint, owner, client_for):
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    endpoint(_examples)
    job = _job(corpus_project, "examples_generate", per_leaf=2)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.result["documents"] == 12 and job.result["llm"]["calls"] == 6
    generated = Document.objects.filter(project=corpus_project, generated=True)
    assert generated.count() == 12 and set(generated.values_list("split", flat=True)) == {"train"}
    baking = corpus_project.nodes[("Food", "Baking")]
    on_baking = GoldLabel.objects.filter(document__generated=True, node=baking, source="generated")
    assert sorted(on_baking.values_list("document__text", flat=True)) == [
        "A first short text about Baking things.",
        "Another text on Baking topics.",
    ]
    # Run again: every leaf already has its examples, nothing is asked or written twice.
    again = _job(corpus_project, "examples_generate", per_leaf=2)
    assert again.result["documents"] == 0 and again.result["llm"]["calls"] == 0

    client = client_for(owner)
    listing = client.get(f"/projects/{corpus_project.pk}/documents/?generated=yes").content.decode()
    assert listing.count('class="badge generated"') == 12
    detail = client.get(f"/projects/{corpus_project.pk}/documents/{generated.first().pk}/").content.decode()
    assert 'id="generated-badge"' in detail
    exported = b"".join(client.get(f"/projects/{corpus_project.pk}/documents/export/?format=csv").streaming_content)
    rows = list(csv.DictReader(io.StringIO(exported.decode())))
    assert sum(r["generated"] == "yes" for r in rows) == 12 and len(rows) == 54

    # A supervised run neither samples them nor counts them, even evaluated on every document.
    run = run_create(project=corpus_project, strategy="tfidf", shots=0, seed=1, name="tfidf-all")
    assert not set(run.train_document_ids) & set(generated.values_list("id", flat=True))
    run_train(run=run)
    run_predict(run=run, split="all")
    assert run_evaluate(run=run, split="all").document_count == 42
    # Where a generated document shows up in review, it says so.
    from django.urls import reverse

    from classifiers.models import Prediction

    pred = Prediction.objects.get(run=run, document=generated.first())
    item = client.get(reverse("review:item", args=[corpus_project.pk, run.pk, pred.pk])).content.decode()
    assert 'class="badge generated"' in item
    real = Prediction.objects.filter(run=run, document__generated=False).first()
    assert (
        'class="badge generated"'
        not in client.get(reverse("review:item", args=[corpus_project.pk, run.pk, real.pk])).content.decode()
    )


def test_weak_run_trains_on_generated_examples_and_llm_pseudo_labels(corpus_project, endpoint, owner):
    from classifiers.models import PseudoLabel
    from classifiers.services import run_create, run_train

    def answer(body):
        if "category path" in _prompt(body):
            return _examples(body)
        return json.dumps({"label": "Football"})  # the LLM scorer (DL) always answers one valid leaf

    fake = endpoint(answer)
    assert _job(corpus_project, "examples_generate", per_leaf=2).state == Job.State.SUCCEEDED
    params = {"scorer": "llm-dl", "base": "tfidf", "base_params": {"min_df": 1}, "threshold": 0.9}
    run = run_create(project=corpus_project, strategy="weak", params=params, name="weak-llm", actor=owner)
    run_train(run=run)
    run.refresh_from_db()
    football = corpus_project.nodes[("Sports", "Football")]
    labels = list(PseudoLabel.objects.filter(run=run))
    # 30 real documents outside the test split, each answered "Football" with confidence 1.
    assert len(labels) == 30 and {tuple(p.path) for p in labels} == {(football.parent_id, football.pk)}
    assert all(p.confidence == 1.0 for p in labels)
    assert not PseudoLabel.objects.filter(run=run, document__generated=True).exists()
    stats = run.stats["pseudo_labels"]
    assert stats["generated_examples"] == 12 and stats["llm"]["calls"] == 30
    classify = [r for r in fake.chat_requests() if "Classify the document" in _prompt(r["body"])]
    assert len(classify) == 30 and all(r["authorization"] == f"Bearer {SECRET}" for r in classify)
    assert SECRET not in json.dumps(run.params) + json.dumps(run.stats)


def test_enrich_command_runs_in_the_foreground(corpus_project, endpoint):
    from django.core.management import call_command

    endpoint(lambda body: json.dumps({"terms": ["cmd term"]}))
    out = io.StringIO()
    call_command("htc_enrich_taxonomy", "--project", corpus_project.name, "--llm-only", "--no-progress", stdout=out)
    assert "Enriched 9 of 9 labels (llm" in out.getvalue()
    assert Node.objects.get(pk=corpus_project.nodes[("Food",)].pk).terms == ["cmd term"]
