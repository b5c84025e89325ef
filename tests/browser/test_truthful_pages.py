"""Issue 20 in the browser: live status from one source, cancelled as its own state, numbers that mean what
they say, a readable history, an API reference without code comments and a schema that opens as text, and the
endpoint's Test connection."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def quiet(page):
    # base.html has no favicon link: chromium's automatic /favicon.ico request would log a 404 console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    return page


@pytest.fixture
def tiny_project(project, settings, tmp_path):
    from tests.classifiers.corpus import load_into

    settings.HTC_MODEL_DIR = tmp_path / "models"
    project.nodes = load_into(project)
    return project


def test_the_job_page_header_and_table_follow_one_source_without_reload(quiet, live_server, login, owner, project):
    from django.utils import timezone

    from jobs.models import Job

    page = quiet
    job = Job.objects.create(
        project=project,
        kind="pipeline",
        state=Job.State.RUNNING,
        target_type="run",
        started_at=timezone.now(),
        progress_total=1000,
        progress_done=100,
        message="Training (step 1 of 3): Training epoch 1 of 3",
        phases=[
            {"key": "train", "label": "Training", "weight": 0.7, "fraction": 0.15},
            {"key": "predict", "label": "Predicting the test split", "weight": 0.25, "fraction": 0.0},
        ],
    )
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/jobs/{job.pk}/")
    page.evaluate("window.__notReloaded = true")
    assert page.text_content(".job-progress [data-job-field=state_label]").strip() == "Running"
    assert page.text_content("#job-facts [data-job-field=state_label]").strip() == "Running"
    assert page.locator(".job-phases li").count() == 2

    Job.objects.filter(pk=job.pk).update(
        state=Job.State.SUCCEEDED,
        finished_at=timezone.now(),
        progress_done=1000,
        target_id=42,
        result={"predicted": 12},
        message="Predicting the test split",  # the stale last progress message of the issue
        phases=[
            {"key": "train", "label": "Training", "weight": 0.7, "fraction": 1.0},
            {"key": "predict", "label": "Predicting the test split", "weight": 0.25, "fraction": 1.0},
        ],
    )
    page.wait_for_selector("#job-facts td[data-job-field=state_label]:text-is('Succeeded')")
    assert page.evaluate("window.__notReloaded") is True
    assert page.text_content(".job-progress [data-job-field=state_label]").strip() == "Succeeded"
    assert page.text_content(".job-progress [data-job-field=message]").strip() == "Finished."
    assert "run #42" in page.text_content("#job-facts [data-job-target]")
    assert page.text_content("#job-facts [data-job-field=finished_at]").strip() != "—"
    assert page.text_content("#job-result").strip().startswith("predicted")
    assert page.locator(".job-progress form").is_hidden()  # no Cancel on a finished job
    assert page.locator(".job-phases li.done").count() == 2


def test_a_cancelled_run_is_cancelled_everywhere_and_offers_no_predict(quiet, live_server, login, owner, tiny_project):
    from classifiers.models import Run
    from classifiers.services import run_create, run_job_start
    from jobs.models import Job

    page = quiet
    run = run_create(project=tiny_project, strategy="tfidf", shots=2, seed=1, name="stopped-run", actor=owner)
    job = run_job_start(run=run, kind="pipeline", split="test", actor=owner)
    Run.objects.filter(pk=run.pk).update(state=Run.State.CANCELLED)
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.CANCELLED, partial=True, message="Cancelled; no model was kept: the run was not trained."
    )
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/classifiers/runs/{run.pk}/")
    assert page.text_content("#run-state").strip() == "Cancelled"
    assert "no model was kept" in page.text_content(".job-progress")
    options = page.locator("#run-job-form select[name=kind] option").all_text_contents()
    assert options == ["Train, predict and evaluate"]


def test_numbers_state_what_they_count(quiet, live_server, login, owner, tiny_project):
    from classifiers.services import run_create, run_job_start
    from taxonomies.services import node_rename

    page = quiet
    with override_settings(TASKS=IMMEDIATE_TASKS):
        run = run_create(project=tiny_project, strategy="tfidf", shots=2, seed=1, name="numbers", actor=owner)
        run_job_start(run=run, kind="pipeline", split="test", actor=owner)
        run_job_start(run=run, kind="pipeline", split="dev", actor=owner)
    # Two labels with the same name under different parents.
    node_rename(node=tiny_project.nodes[("Science", "Physics")], name="Football", actor=owner)
    login(page, owner)

    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/")
    rows = page.locator("#level-counts tbody tr")
    assert [rows.nth(i).locator("td").all_text_contents()[:2] for i in range(rows.count())] == [
        ["1", "42"],
        ["2", "42"],
    ]

    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/classifiers/metrics/?run={run.pk}&level=2")
    labels = page.locator("#confusion-plot > text").all_text_contents()
    assert "Sports > Football" in labels and "Science > Football" in labels
    assert "12 test documents" in page.text_content("#confusion-caption")

    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/classifiers/runs/{run.pk}/")
    caption = page.text_content("#tradeoff-1 figcaption")
    dev_row = page.locator("#evaluations tbody tr", has_text="dev")
    headers = [h.strip() for h in page.locator("#evaluations thead th").all_text_contents()]
    dev_docs = dev_row.locator("td").nth(headers.index("Documents")).text_content().strip()
    assert f"{dev_docs} dev documents with gold labels" in caption and "exact path accuracy" in caption
    dev_exact = dev_row.locator("td").nth(headers.index("Exact path accuracy")).text_content().strip()
    assert f"({dev_exact} on {dev_docs} documents)" in caption
    assert page.locator("#evaluations th", has_text="Coverage").count() == 1

    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/taxonomy/history/")
    history = page.text_content("#history tbody")
    assert "Renamed “Physics” to “Football”." in history
    assert "None" not in history and "[]" not in history


def test_the_api_reference_has_no_code_comments_and_the_schema_opens_as_text(quiet, live_server):
    page = quiet
    page.goto(f"{live_server.url}/api/docs/")
    body = page.text_content("main") or page.text_content("body")
    assert "Resolves" not in body and "roles[method]" not in body
    page.click("#schema-links a:text('/api/schema/')")  # today this starts a download instead of a page
    page.wait_for_load_state()
    assert page.text_content("body").startswith("openapi: 3")
    with page.expect_download() as download:
        page.goto(f"{live_server.url}/api/docs/")
        page.click("#schema-links a:text('YAML')")
    assert download.value.suggested_filename == "htc-openapi.yaml"


def _click_test_connection(page, live_server, login, owner, project, settings, fake, model: str) -> None:
    """Point the project at `fake` with `model` configured, open the endpoint page and press Test connection."""
    from endpoints.services import endpoint_save

    settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
    endpoint_save(project=project, actor=owner, base_url=fake.base_url, model=model, api_key="")
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/llm/")
    page.click("#endpoint-test button[type=submit]")
    page.wait_for_selector("#endpoint-test-result")


def test_test_connection_shows_model_format_and_latency(quiet, live_server, login, owner, project, settings):
    from tests.endpoints.fake_llm import FakeLLM

    page = quiet
    with FakeLLM(default='{"answer": "OK"}') as fake:
        _click_test_connection(page, live_server, login, owner, project, settings, fake, "tiny-model")
        text = page.text_content("#endpoint-test-result")
    assert "tiny-model" in text and "json_schema" in text and " ms" in text


def test_the_metrics_page_shows_no_scores_for_a_run_that_predicted_nothing(
    quiet, live_server, login, owner, tiny_project
):
    from classifiers.models import Prediction
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    page = quiet
    runs = []
    for name in ("answered", "silent"):
        run = run_create(project=tiny_project, strategy="tfidf", shots=2, seed=1, name=name, actor=owner)
        run_train(run=run)
        run_predict(run=run, split="test")
        runs.append(run)
    answered, silent = runs
    Prediction.objects.filter(run=silent).update(paths=[], raw_paths=[], leaf_node=None, valid=False)
    for run in runs:
        run_evaluate(run=run, split="test")
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{tiny_project.pk}/classifiers/metrics/?run={answered.pk}&run={silent.pk}")
    names = [n.strip() for n in page.locator("#metrics-table thead th").all_text_contents()][1:]
    column = names.index("silent") + 1

    def cell(metric: str, col: int) -> str:
        return page.locator(f"#metrics-table tr[data-metric={metric}] td").nth(col - 1).text_content().strip()

    assert cell("micro_f1", column) == "—" and cell("exact_path_accuracy", column) == "—"
    assert cell("consistency", column) == "—" and cell("level1_micro_f1", column) == "—"
    assert cell("n_predicted", column) == "0" and cell("n_documents", column) == "12"
    assert cell("micro_f1", 3 - column) != "—"  # the run that answered keeps its scores
    assert "nothing to score" in page.text_content("#predicted-nothing")
    legend = page.locator("figure", has=page.locator("#per-level-plot")).locator("figcaption").text_content()
    assert "answered" in legend and "silent" not in legend


def test_test_connection_shows_the_model_the_server_reports(quiet, live_server, login, owner, project, settings):
    from tests.endpoints.fake_llm import FakeLLM

    page = quiet
    # llama-cpp-python's listing (owned_by "me" with permissions): it takes json_object, and it serves another
    # model than the one configured.
    listing = {"object": "list", "data": [{"id": "served-q4", "object": "model", "owned_by": "me", "permissions": []}]}
    with FakeLLM(default='{"answer": "OK"}', models=listing, reply_model="served-q4") as fake:
        _click_test_connection(page, live_server, login, owner, project, settings, fake, "configured-model")
        assert len(fake.chat_requests()) == 1 and len(fake.model_requests()) == 1
    assert page.text_content("#endpoint-test-model").strip() == "served-q4"
    assert "configured: configured-model" in page.text_content("#endpoint-test-result")
    assert page.text_content("#endpoint-test-format").strip() == "json_object"
    assert page.text_content("#endpoint-test-latency").strip().endswith(" ms")
