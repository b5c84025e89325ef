"""Hostile text in the real browser (reliability.md #18): no payload runs and the strict CSP reports nothing.

Every page that shows user text is opened with markup, script and attribute breakouts in every field. A
dialog (`alert`) would mean a payload ran; the `page` fixture fails the test on any console error, which
includes a CSP violation report.
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_no_payload_runs_on_any_page_that_shows_user_text(page, live_server, login):
    from corpora.models import Document
    from taxonomies.models import Node
    from tests.security.world import build_world, make_hostile, make_user

    w = make_hostile(build_world(name="Alpha", owner=make_user("alice")))
    example = Document.objects.get(project=w.project, generated=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    login(page, w.owner)
    base = f"{live_server.url}/projects/{w.project.pk}"
    for path in [
        "/projects/",
        f"/projects/{w.project.pk}/",
        f"/projects/{w.project.pk}/members/",
        f"/projects/{w.project.pk}/taxonomy/",
        f"/projects/{w.project.pk}/taxonomy/?node={w.nodes['Sci > Bio'].pk}",
        f"/projects/{w.project.pk}/taxonomy/history/",
        f"/projects/{w.project.pk}/documents/",
        f"/projects/{w.project.pk}/documents/{w.document.pk}/",
        f"/projects/{w.project.pk}/jobs/",
        f"/projects/{w.project.pk}/jobs/{w.job.pk}/",
        f"/projects/{w.project.pk}/classifiers/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.run.pk}/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.run.pk}/predictions/",
        f"/projects/{w.project.pk}/review/runs/{w.run.pk}/",
        f"/projects/{w.project.pk}/review/runs/{w.run.pk}/items/{w.prediction.pk}/",
        f"/projects/{w.project.pk}/review/agreement/",
        f"/projects/{w.project.pk}/llm/",
        # Cold start and growth: terms and the split task link, the LLM-written example, pseudo-labels, the
        # cascade's stages and trade-off plots, the forgetting plot, the "which child?" task.
        f"/projects/{w.project.pk}/taxonomy/?node={w.nodes['Sport > Team'].pk}",
        f"/projects/{w.project.pk}/documents/{example.pk}/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.weak_run.pk}/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.weak_run.pk}/pseudo-labels/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.cascade_run.pk}/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.trained_run.pk}/",
        f"/projects/{w.project.pk}/classifiers/runs/{w.updated_run.pk}/",
        f"/projects/{w.project.pk}/review/tasks/{w.task.pk}/",
    ]:
        page.goto(live_server.url + path)
        page.wait_for_load_state("load")
        page.mouse.move(5, 5)  # hover handlers would fire on movement
        page.mouse.move(400, 300)
    # The review page's picker renders label names from JSON: open it and type, so scripts draw the names.
    page.goto(f"{base}/review/runs/{w.run.pk}/items/{w.prediction.pk}/")
    page.keyboard.press("c")
    page.keyboard.type("img")
    assert page.locator("text=<img src=x onerror=alert(1)>0").count() >= 1  # shown as text
    # The "which child?" picker draws the split's children from JSON, opened on them.
    page.goto(f"{base}/review/tasks/{w.task.pk}/documents/{w.task_document.pk}/")
    page.keyboard.press("c")
    children = {Node.objects.get(pk=w.nodes[f"Sport > Team > {n}"].pk).name for n in ("Pro", "Amateur")}
    page.wait_for_selector("#picker-options li")
    assert children <= set(page.locator("#picker-options li").all_text_contents())  # shown as text
    # ... each name in its own <bdi> (bidi-isolated, as the server-rendered pages do: tests/security/test_bidi.py)
    assert children <= set(page.locator("#picker-options li > bdi").all_text_contents())
    assert dialogs == [], f"a payload ran: {dialogs}"
