"""The cascade in the browser: stage fields appear for the cascade strategy; the run page draws the trade-off."""

from __future__ import annotations

import os

import pytest
from django.test import override_settings

from tests.browser.test_classify_flow import IMMEDIATE_TASKS, tiny_project  # noqa: F401  (a shared fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_configure_a_cascade_and_pick_a_threshold(page, live_server, login, owner, tiny_project):  # noqa: F811
    base = f"{live_server.url}/projects/{tiny_project.pk}/classifiers/"
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    with override_settings(TASKS=IMMEDIATE_TASKS):
        login(page, owner)
        page.goto(base)
        page.select_option("#id_strategy", "tfidf")
        assert page.locator("#cascade-stages").is_hidden()
        page.select_option("#id_strategy", "cascade")
        assert page.locator("#cascade-stages").is_visible()
        page.fill("#id_name", "web-cascade")
        page.select_option("#id_stage1_strategy", "tfidf")
        page.fill("#id_stage1_threshold", "0.6")
        page.select_option("#id_stage2_strategy", "tfidf")
        page.fill("#id_stage2_params", "C=20")
        page.check("#id_review")
        page.fill("#id_review_threshold", "0.3")
        page.click("#run-form button[type=submit]")
        page.wait_for_selector("h1:has-text('Run web-cascade')")
        assert page.text_content("#run-state").strip() == "Trained"
        assert page.locator("#cascade-stages-table tbody tr").count() == 2
        assert page.locator("#tradeoff-1 polyline").count() == 2
        if os.environ.get("HTC_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["HTC_SCREENSHOTS"], "cascade-run.png"), full_page=True)
        page.click("#tradeoff-1 + details summary")
        page.click("#tradeoff-1 + details a:has-text('new run at 0.80')")
        assert page.input_value("#id_stage1_threshold") == "0.8"
        assert page.locator("#cascade-stages").is_visible() and page.is_checked("#id_review")
