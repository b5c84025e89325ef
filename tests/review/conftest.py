import pytest


@pytest.fixture
def reviewed_setup(project, owner, build_tree):
    """A 3-level tree, four documents and a run with hand-made predictions."""
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document, GoldLabel

    nodes = build_tree(
        project,
        {"Sci": {"Phys": {"Astro": {}, "Quantum": {}}, "Bio": {"Gen": {}}}, "Sport": {"Team": {"Football": {}}}},
    )
    corpus = Corpus.objects.create(project=project, name="c")
    docs = [
        Document.objects.create(project=project, corpus=corpus, external_id=f"d{i}", text=f"text {i}", split="test")
        for i in range(4)
    ]
    GoldLabel.objects.create(document=docs[0], node=nodes["Sci > Phys > Astro"])
    run = Run.objects.create(project=project, name="run-1", strategy="tfidf")

    def path(key):
        parts = key.split(" > ")
        return [nodes[" > ".join(parts[: i + 1])].pk for i in range(len(parts))]

    def predict(doc, key, margin, consistent=True, valid=True, raw=None):
        p = path(key) if key else []
        return Prediction.objects.create(
            run=run,
            document=doc,
            paths=[p] if p else [],
            scores=[0.9] * len(p),
            raw_paths=[raw] if raw else [],
            consistent=consistent,
            valid=valid,
            margin=margin,
            stage="tfidf",
            leaf_node=p[-1] if p else None,
        )

    preds = [
        predict(docs[0], "Sci > Phys > Astro", 0.80),
        predict(docs[1], "Sci > Bio > Gen", 0.05),
        predict(docs[2], "Sport > Team > Football", 0.40, consistent=False),
        predict(docs[3], "", None, valid=False),
    ]
    return {"nodes": nodes, "docs": docs, "run": run, "preds": preds, "path": path}
