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
    # A hostile name is text, never markup.
    page.fill("#node-search", "onerror")
    page.wait_for_selector("#search-results a")
    assert page.inner_text("#search-results") == EVIL
    assert page.locator("#search-results img").count() == 0 and page.locator("#taxonomy-tree img").count() == 0
