"""Migration review 0003: corrections that an earlier htc wrote over the uploaded gold are undone where the
original can be recovered, and marked where it cannot; every decision row is kept."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("review", "0002_review_task")]
AFTER = [("review", "0003_correction_provenance")]


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_every_decision_and_restores_recoverable_uploaded_gold(project, owner, build_tree):
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document, GoldLabel

    nodes = build_tree(project, {"Sci": {"Phys": {"Astro": {}, "Quantum": {}}, "Bio": {"Gen": {}}}, "Sport": {}})

    def path(key):
        parts = key.split(" > ")
        return [nodes[" > ".join(parts[: i + 1])].pk for i in range(len(parts))]

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    OldCorrection = old.get_model("review", "Correction")
    corpus = Corpus.objects.create(project=project, name="c")
    docs = {
        key: Document.objects.create(project=project, corpus=corpus, external_id=key, text=key, split=split)
        for key, split in [("on-prediction", "test"), ("without-prediction", "train"), ("split-task", "train")]
    }
    run = Run.objects.create(project=project, name="r", strategy="tfidf")
    pred = Prediction.objects.create(run=run, document=docs["on-prediction"], paths=[path("Sci > Phys > Astro")])

    def old_decision(doc, before, after, predicted):
        OldCorrection.objects.create(
            project_id=project.pk,
            document_id=doc.pk,
            prediction_id=pred.pk if predicted else None,
            predicted_paths=[path(predicted)] if predicted else [],
            before_paths=[path(before)],
            after_paths=[path(after)],
            action="change",
            annotator_id=owner.pk,
        )
        # What the old _sync_gold did: the uploaded label replaced by the decision, source "correction".
        GoldLabel.objects.filter(document=doc).delete()
        GoldLabel.objects.create(document=doc, node_id=path(after)[-1], source="correction")

    # The old code recorded the prediction as "before": the uploaded label is lost.
    old_decision(docs["on-prediction"], "Sci > Phys > Astro", "Sci > Bio > Gen", "Sci > Phys > Astro")
    # A decision without a prediction recorded the gold as "before": recoverable.
    old_decision(docs["without-prediction"], "Sci > Bio > Gen", "Sci > Phys > Quantum", None)
    # A "which child?" answer after a split only refined the uploaded label.
    old_decision(docs["split-task"], "Sci > Phys", "Sci > Phys > Quantum", None)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    from review.labels import current_label
    from review.models import Correction

    def gold(key):
        return list(GoldLabel.objects.filter(document=docs[key]).values_list("node_id", "source"))

    assert gold("on-prediction") == [(nodes["Sci > Bio > Gen"].pk, "overwritten")]
    assert gold("without-prediction") == [(nodes["Sci > Bio > Gen"].pk, "import")]
    assert gold("split-task") == [(nodes["Sci > Phys > Quantum"].pk, "refined")]
    assert Correction.objects.count() == 3
    assert Correction.objects.get(document=docs["on-prediction"]).test_split
    assert Correction.objects.get(document=docs["without-prediction"]).gold_paths == [path("Sci > Bio > Gen")]
    # The decisions still give the current label.
    label = current_label(document=docs["without-prediction"])
    assert (label.paths, label.source, label.uploaded) == (
        [path("Sci > Phys > Quantum")],
        "annotators",
        [path("Sci > Bio > Gen")],
    )
    assert current_label(document=docs["on-prediction"]).uploaded_overwritten
