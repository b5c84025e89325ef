"""Split a label in the editor, then decide the "which child?" task by keyboard (CSP violations fail the test)."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_split_then_decide_which_child_by_keyboard(page, live_server, login, owner, project, build_tree):
    from corpora.models import GoldLabel
    from review.models import Correction
    from tests.taxonomies.factories import label_documents

    nodes = build_tree(project, {"Sci": {}, "Sport": {"Football": {}}})
    docs = label_documents(project, nodes["Sci"], 2, prefix="doc")
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/taxonomy/?node={nodes['Sci'].pk}")
    page.fill("#split-children", "Physics\nBiology")
    page.click("#split-form button[type=submit]")
    page.wait_for_selector("#split-task-link")
    page.click("#split-task-link a")
    page.wait_for_selector("#task-remaining:has-text('2')")
    page.click("#start-task")

    # the picker opens on the children of Sci (sorted by name)
    page.wait_for_selector("h1:has-text('Document doc-0')")
    # The heading is there before the module script has built the picker and listens for keys.
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("#picker-options li")).to_have_text(["Biology", "Physics"])
    page.keyboard.press("c")
    page.keyboard.press("ArrowDown")  # Physics
    page.keyboard.press("Enter")  # a leaf: saves
    page.wait_for_selector("h1:has-text('Document doc-1')")
    page.wait_for_load_state("domcontentloaded")
    page.keyboard.press("/")
    page.keyboard.type("bio")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing left for you to decide")
    assert page.locator("#task-remaining").text_content() == "0"

    physics, biology = (nodes["Sci"].children.get(name=n) for n in ("Physics", "Biology"))
    assert GoldLabel.objects.get(document=docs[0]).node == physics
    assert GoldLabel.objects.get(document=docs[1]).node == biology
    assert Correction.objects.filter(annotator=owner, action="change").count() == 2
