"""The taxonomy editor in a real browser: type-ahead search, keyboard selection, text-only rendering."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVIL = "<img src=x onerror=alert(1)>"


def test_search_and_keyboard_select_a_label(page, live_server, login, owner, project, build_tree):
    build_tree(project, {"Science": {"Physics": {"Astro": {}}, "Biology": {}}, "Sport": {"Football": {}}, EVIL: {}})
    # base.html links no icon; the browser's automatic /favicon.ico 404 would count as a console error.
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/taxonomy/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "node-search"
    page.keyboard.type("astr")
    page.wait_for_selector("#search-results a")
    assert page.inner_text("#search-results") == "Science > Physics > Astro"
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url("**?node=*")
    assert page.inner_text("#node-heading") == "Astro"
    # j focuses the selected label, then j/k walk the visible tree; Enter opens the focused one.
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.textContent") == "Astro"
    page.keyboard.press("k")
    assert page.evaluate("document.activeElement.textContent") == "Physics"
    page.keyboard.press("Enter")
    page.wait_for_selector("#node-heading:has-text('Physics')")
    page.wait_for_load_state()  # the heading is there before the module script listens
    # A hostile name is text, never markup.
    page.fill("#node-search", "onerror")
    page.wait_for_selector("#search-results a")
    assert page.inner_text("#search-results") == EVIL
    assert page.locator("#search-results img").count() == 0 and page.locator("#taxonomy-tree img").count() == 0


def test_terms_preview_and_saved_terms_stay_text(page, live_server, login, owner, project, build_tree):
    from taxonomies.models import Node

    ml = build_tree(project, {"CS": {"ML": {}}})["CS > ML"]
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/taxonomy/?node={ml.pk}")
    page.fill("#describe-terms", f"svm, {EVIL}\n neural   net, svm")
    # The live preview shows the terms as they will be saved, each one as text.
    assert page.locator("#terms-preview li").all_inner_texts() == ["svm", EVIL, "neural net"]
    assert page.locator("#terms-preview img").count() == 0
    page.click("text=Save description")
    page.wait_for_selector("#node-terms .term-chips li")
    assert page.locator("#node-terms .term-chips li").all_inner_texts() == ["svm", EVIL, "neural net"]
    assert page.locator("#node-terms img").count() == 0 and not alerts
    assert page.inner_text("#node-terms .term-source") == "edited by a person"
    assert Node.objects.get(pk=ml.pk).terms_source == "edited"
