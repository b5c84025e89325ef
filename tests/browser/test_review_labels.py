"""Issue 19 in the browser: review never writes over uploaded gold and shows it beside the prediction (1), the
picker saves exactly the highlighted node for every key path (2), `u` undoes from the next document (3), the
train split can be reviewed and retrained on from a run page (4), key hints are readable (5); and a second
decision on the same document from another tab is a conflict with a choice (issue 21, item 8)."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
TREE = {
    "Sci": {"Phys": {"Astro": {}, "Quantum": {}}, "Bio": {"Gen": {}, "Eco": {}}},
    "Sport": {"Team": {"Football": {}, "Hockey": {}}},
}


@pytest.fixture
def world(project, build_tree):
    """Eight test documents, each with uploaded gold Sci > Bio > Gen and the (wrong) prediction Sci > Phys > Astro."""
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document, GoldLabel

    nodes = build_tree(project, TREE)
    corpus = Corpus.objects.create(project=project, name="c")
    run = Run.objects.create(project=project, name="run-k", strategy="tfidf")

    def path(key):
        parts = key.split(" > ")
        return [nodes[" > ".join(parts[: i + 1])].pk for i in range(len(parts))]

    preds = []
    for i in range(8):
        doc = Document.objects.create(
            project=project, corpus=corpus, external_id=f"doc-{i}", text=f"Document number {i}", split="test"
        )
        GoldLabel.objects.create(document=doc, node=nodes["Sci > Bio > Gen"])
        p = path("Sci > Phys > Astro")
        preds.append(
            Prediction.objects.create(
                run=run, document=doc, paths=[p], scores=[0.9, 0.8, 0.7], margin=0.1 * i, leaf_node=p[-1], stage="tfidf"
            )
        )
    return {"run": run, "preds": preds, "path": path, "nodes": nodes}


def _open(page, live_server, project, world, i):
    pred = world["preds"][i]
    page.goto(f"{live_server.url}/projects/{project.pk}/review/runs/{world['run'].pk}/items/{pred.pk}/?order=document")
    page.wait_for_selector(f"h1:has-text('Document doc-{i}')")
    page.wait_for_load_state("load")


def _current(doc_index, world):
    from review.models import Correction

    return Correction.objects.filter(document=world["preds"][doc_index].document).order_by("-id").first()


def test_accepting_a_wrong_prediction_keeps_the_uploaded_gold_and_shows_both(
    page, live_server, login, owner, project, world
):
    from corpora.models import GoldLabel

    login(page, owner)
    _open(page, live_server, project, world, 0)
    table = page.text_content("#gold-comparison")
    assert "Astro" in table and "Gen" in table  # the prediction beside the current gold, per level
    assert "uploaded gold" in page.text_content("#gold-source")
    assert page.locator("#gold-comparison tr.differs").count() == 2  # levels 2 and 3 differ
    assert page.is_visible("#gold-disagreement") and page.is_visible("#test-split-note")
    gold_before = list(GoldLabel.objects.values_list("id", "document_id", "node_id", "source"))
    page.keyboard.press("a")
    page.wait_for_selector("h1:has-text('Document doc-1')")
    assert list(GoldLabel.objects.values_list("id", "document_id", "node_id", "source")) == gold_before
    c = _current(0, world)
    assert c.action == "accept" and c.disagrees_with_gold and c.test_split
    assert c.before_names == [["Sci", "Bio", "Gen"]] and c.gold_paths == [world["path"]("Sci > Bio > Gen")]
    # The document page shows the current label with its source, and the uploaded gold apart.
    doc = world["preds"][0].document
    page.goto(f"{live_server.url}/projects/{project.pk}/documents/{doc.pk}/")
    assert page.text_content("#current-label-source").strip() == "agreed annotators"
    assert "Astro" in page.text_content("#current-label") and "Gen" in page.text_content("#uploaded-gold")
    # ... and the adjudication view lists it as annotator vs uploaded gold.
    page.goto(f"{live_server.url}/projects/{project.pk}/review/agreement/")
    assert "annotator vs uploaded gold" in page.text_content("#conflicts")


KEY_PATHS = [
    # (keys, expected saved path): every way the picker saves, each on its own document.
    (["c", *"quant", "Control+Enter"], "Sci > Phys > Quantum"),  # search, Ctrl+Enter on a leaf
    (["c", *"phys", "Control+Enter"], "Sci > Phys"),  # search, Ctrl+Enter on an internal label
    (["c", *"phys", "ArrowDown", "ArrowDown", "Control+Enter"], "Sci > Phys > Quantum"),  # moved, Ctrl+Enter
    (["c", *"hock", "Enter"], "Sport > Team > Hockey"),  # search, Enter on a leaf
    (["c", *"team", "Enter", "ArrowDown", "Enter"], "Sport > Team > Hockey"),  # Enter opens, Enter saves
    (["c", "ArrowDown", "Control+Enter"], "Sci > Phys > Quantum"),  # browse the level, Ctrl+Enter
    (["c", "Backspace", "ArrowUp", "Enter", "Enter"], "Sci > Bio > Eco"),  # up a level (Bio, Phys), open, save
]


@pytest.mark.parametrize("index", range(len(KEY_PATHS)))
def test_the_picker_saves_exactly_the_highlighted_label(page, live_server, login, owner, project, world, index):
    keys, expected = KEY_PATHS[index]
    login(page, owner)
    _open(page, live_server, project, world, index)
    for key in keys[:-1]:
        page.keyboard.press(key)
    highlighted = page.get_attribute("#picker-options li.selected", "data-node-id")
    with page.expect_navigation():
        page.keyboard.press(keys[-1])
    page.wait_for_selector("h1:has-text('Document doc-')")
    c = _current(index, world)
    assert c is not None and c.action == "change"
    assert c.after_paths == [world["path"](expected)]
    assert c.after_paths[0][-1] == int(highlighted)


def test_the_save_button_saves_the_highlighted_label(page, live_server, login, owner, project, world):
    login(page, owner)
    _open(page, live_server, project, world, 0)
    page.keyboard.press("c")
    page.keyboard.type("eco")
    page.click("#btn-save")
    page.wait_for_selector("h1:has-text('Document doc-1')")
    assert _current(0, world).after_paths == [world["path"]("Sci > Bio > Eco")]


def test_u_on_the_next_document_undoes_the_last_decision_as_an_undo(page, live_server, login, owner, project, world):
    from review.models import Correction

    login(page, owner)
    _open(page, live_server, project, world, 0)
    page.keyboard.press("a")
    page.wait_for_selector("h1:has-text('Document doc-1')")
    page.wait_for_load_state("load")
    assert "doc-0" in page.text_content("#btn-undo")
    page.keyboard.press("u")
    page.wait_for_selector("h1:has-text('Document doc-0')")  # back on the document whose decision was undone
    assert "Decision on doc-0 undone" in page.text_content(".messages")
    accept, undo = Correction.objects.order_by("id")
    assert (accept.action, undo.action, undo.undoes_id, undo.after_paths) == ("accept", "undo", accept.pk, [])
    accept.refresh_from_db()
    assert accept.superseded_by_id == undo.pk
    assert Correction.objects.count() == 2  # nothing recorded as a "change"


def test_a_second_decision_from_another_tab_is_a_conflict_with_a_choice(
    browser, live_server, login, owner, project, world
):
    from review.models import Correction

    context = browser.new_context()
    try:
        tab_a = context.new_page()
        login(tab_a, owner)
        tab_b = context.new_page()
        _open(tab_a, live_server, project, world, 0)
        _open(tab_b, live_server, project, world, 0)
        tab_a.keyboard.press("a")
        tab_a.wait_for_selector("h1:has-text('Document doc-1')")
        tab_b.keyboard.press("r")
        tab_b.wait_for_selector("#decision-conflict")
        assert "another tab" in tab_b.text_content(".messages")
        assert list(Correction.objects.values_list("action", flat=True)) == ["accept"]  # nothing superseded
        tab_b.click("#btn-conflict-mine")
        tab_b.wait_for_selector("h1:has-text('Document doc-1')")
        assert list(Correction.objects.order_by("id").values_list("action", flat=True)) == ["accept", "reject"]
    finally:
        context.close()


def test_key_hints_on_filled_buttons_are_readable(page, live_server, login, owner, project, world):
    login(page, owner)
    _open(page, live_server, project, world, 0)
    colours = page.eval_on_selector(
        "#btn-accept kbd", "k => [getComputedStyle(k).color, getComputedStyle(k).backgroundColor]"
    )
    assert colours[0] != colours[1], colours


@pytest.fixture
def trained_project(project, owner, settings, tmp_path):
    from classifiers.services import run_create, run_predict, run_train
    from tests.classifiers.corpus import load_into

    settings.HTC_MODEL_DIR = tmp_path / "models"
    load_into(project)
    run = run_create(project=project, strategy="tfidf", shots=1, seed=1, name="tfidf-k1", actor=owner)
    run_train(run=run)
    run_predict(run=run, split="test")
    return run


def test_review_training_documents_then_retrain_from_the_run_page(
    page, live_server, login, owner, project, trained_project
):
    from classifiers.models import Run

    run = trained_project
    page.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    with override_settings(TASKS=IMMEDIATE_TASKS):
        login(page, owner)
        # Before any training document is reviewed, retrain says what to do instead of a dead end.
        page.goto(f"{live_server.url}/projects/{project.pk}/review/runs/{run.pk}/")
        page.click("#btn-retrain")
        assert "Review training documents" in page.text_content(".messages")
        page.goto(f"{live_server.url}/projects/{project.pk}/classifiers/runs/{run.pk}/")
        page.click("#btn-review-train")
        # The immediate backend has predicted the train split by the time the queue loads.
        page.wait_for_url("**/review/runs/*/?split=train")
        assert run.predictions.filter(document__split="train").count() == 24
        page.focus("#start-review")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Document')")
        page.wait_for_load_state("load")
        page.keyboard.press("c")
        page.keyboard.type("tennis")
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:has-text('Document')")
        page.goto(f"{live_server.url}/projects/{project.pk}/review/runs/{run.pk}/?split=train")
        page.click("#btn-retrain")
        page.wait_for_selector("text=training with the reviewed labels")
    child = Run.objects.get(parent_run=run)
    assert child.strategy == run.strategy and child.params == run.params and child.shots == run.shots
    assert child.stats["labels"] == "reviewed" and child.stats["reviewed_labels"] == 1
    assert not set(child.train_document_ids) & set(project.documents.filter(split="test").values_list("pk", flat=True))
    assert child.state == Run.State.TRAINED
