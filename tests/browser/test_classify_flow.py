"""The web flow: configure a run, train + predict + evaluate it, and look at the metrics page."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture
def tiny_project(project, settings, tmp_path):
    from tests.classifiers.corpus import load_into

    settings.HTC_MODEL_DIR = tmp_path / "models"
    load_into(project)
    return project


def test_configure_train_and_see_metrics(page, live_server, login, owner, tiny_project):
    base = f"{live_server.url}/projects/{tiny_project.pk}/classifiers/"
    # base.html has no favicon link: chromium's automatic /favicon.ico request would log a 404 console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    with override_settings(TASKS=IMMEDIATE_TASKS):
        login(page, owner)
        page.goto(base)
        page.select_option("#id_strategy", "tfidf")
        page.fill("#id_name", "web-tfidf")
        page.fill("#id_shots", "2")
        page.fill("#id_seed", "3")
        page.fill("#id_params", "C=8")
        page.select_option("#id_split", "test")
        page.click("#run-form button[type=submit]")
        # The immediate backend has run the pipeline by the time the run page loads.
        page.wait_for_selector("h1:has-text('Run web-tfidf')")
        assert page.text_content("#run-state").strip() == "Trained"
        assert page.locator("#evaluations tbody tr").count() == 1

        page.click("text=12 predictions")
        page.wait_for_selector("#predictions")
        assert page.locator("#predictions tbody tr").count() == 12

        page.goto(base + "metrics/")
        page.wait_for_selector("#metrics-table")
        assert "web-tfidf" in page.text_content("#metrics-table thead")
        assert page.locator("#per-level-plot rect.bar").count() == 2  # 2 levels x 1 run
        assert page.locator("#confusion-plot rect.cell").count() >= 4
        assert page.locator("#shots-plot circle.marker").count() == 1
        exact = page.locator("#metrics-table tr[data-metric=exact_path_accuracy] td").first.text_content()
        assert float(exact) >= 0.75
