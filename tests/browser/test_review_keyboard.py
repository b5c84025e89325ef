"""Review five documents by keyboard alone: accept two, correct three at different levels."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def five_predictions(project, build_tree):
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document

    nodes = build_tree(
        project,
        {
            "Sci": {"Phys": {"Astro": {}, "Quantum": {}}, "Bio": {"Gen": {}, "Eco": {}}},
            "Sport": {"Team": {"Football": {}, "Hockey": {}}},
        },
    )
    corpus = Corpus.objects.create(project=project, name="c")
    run = Run.objects.create(project=project, name="run-k", strategy="tfidf")
    path = lambda key: [nodes[" > ".join(key.split(" > ")[: i + 1])].pk for i in range(len(key.split(" > ")))]  # noqa: E731
    predicted = ["Sci > Phys > Astro", "Sci > Bio > Gen", "Sci > Phys > Astro", "Sci > Bio > Gen", "Sci > Phys > Astro"]
    preds = []
    for i, key in enumerate(predicted):
        doc = Document.objects.create(
            project=project, corpus=corpus, external_id=f"doc-{i}", text=f"Document number {i}"
        )
        p = path(key)
        preds.append(
            Prediction.objects.create(
                run=run, document=doc, paths=[p], scores=[0.9, 0.8, 0.7], margin=0.1 * i, leaf_node=p[-1], stage="tfidf"
            )
        )
    return {"run": run, "preds": preds, "path": path}


def test_review_five_documents_by_keyboard(page, live_server, login, owner, project, five_predictions):
    from review.models import Correction

    s = five_predictions
    login(page, owner)
    page.goto(f"{live_server.url}/projects/{project.pk}/review/runs/{s['run'].pk}/?order=document")
    page.focus("#start-review")
    page.keyboard.press("Enter")

    def expect_doc(i):
        page.wait_for_selector(f"h1:has-text('Document doc-{i}')")
        # The heading is there before the page's module script has run; keys pressed earlier are lost.
        page.wait_for_load_state("domcontentloaded")

    # 1 and 2: accept.
    expect_doc(0)
    page.keyboard.press("a")
    expect_doc(1)
    page.keyboard.press("a")
    # 3: correct at level 1 (Sci -> Sport > Team > Hockey), level by level.
    expect_doc(2)
    page.keyboard.press("c")
    page.keyboard.press("Backspace")  # level 3 -> level 2
    page.keyboard.press("Backspace")  # level 2 -> level 1 (Sci highlighted)
    page.keyboard.press("ArrowDown")  # Sport
    page.keyboard.press("Enter")  # choose Sport, show its children
    page.keyboard.press("Enter")  # Team
    page.keyboard.press("ArrowDown")  # Hockey
    page.keyboard.press("Enter")  # a leaf: saves
    # 4: correct at level 2 (Sci > Bio > Gen -> Sci > Phys, stopping at the internal node).
    expect_doc(3)
    page.keyboard.press("c")
    page.keyboard.press("Backspace")  # show level-2 choices (Bio highlighted)
    page.keyboard.press("ArrowDown")  # Phys (children of Sci: Bio, Phys)
    page.keyboard.press("Control+Enter")  # save the highlighted label: Sci > Phys
    # 5: correct at level 3 with type-ahead search.
    expect_doc(4)
    page.keyboard.press("/")
    page.keyboard.type("quant")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Nothing left to review")

    decisions = {c.document.external_id: c for c in Correction.objects.select_related("document")}
    assert set(decisions) == {f"doc-{i}" for i in range(5)}
    p = s["path"]
    assert decisions["doc-0"].action == "accept" and decisions["doc-0"].after_paths == [p("Sci > Phys > Astro")]
    assert decisions["doc-1"].action == "accept" and decisions["doc-1"].after_paths == [p("Sci > Bio > Gen")]
    assert decisions["doc-2"].action == "change" and decisions["doc-2"].after_paths == [p("Sport > Team > Hockey")]
    assert decisions["doc-3"].action == "change" and decisions["doc-3"].after_paths == [p("Sci > Phys")]
    assert decisions["doc-4"].action == "change" and decisions["doc-4"].after_paths == [p("Sci > Phys > Quantum")]
    assert all(c.annotator == owner for c in decisions.values())
