"""Updating a run for new labels: split a label, decide the review task, update the tfidf run from its parent."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from classifiers.growth import run_update_create
from classifiers.models import Prediction, Run
from classifiers.services import run_create, run_evaluate, run_predict, run_train
from corpora.models import Corpus, Document, GoldLabel
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create
from review.tasks import split_task_decide
from taxonomies.models import Node
from taxonomies.services import node_ensure_path
from taxonomies.splitting import node_split
from tests.classifiers.corpus import documents

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_grown(project, owner):
    """make_grown(strategy, params): the tiny corpus with Science as a leaf, a run of `strategy` trained on it,
    then Science split into Physics and Biology with every document of the "which child?" task decided."""

    def make(strategy: str = "tfidf", params: dict | None = None) -> dict:
        docs = documents()
        nodes = {}
        for d in docs:
            names = d["path"][:1] if d["path"][0] == "Science" else d["path"]
            nodes[tuple(names)] = node_ensure_path(taxonomy=project.taxonomy, names=names)
        corpus = Corpus.objects.create(project=project, name="tiny")
        made = Document.objects.bulk_create(
            Document(project=project, corpus=corpus, external_id=d["id"], text=d["text"], split=d["split"])
            for d in docs
        )
        GoldLabel.objects.bulk_create(
            GoldLabel(document=doc, node=nodes[tuple(d["path"][:1] if d["path"][0] == "Science" else d["path"])])
            for doc, d in zip(made, docs, strict=True)
        )
        project.taxonomy.refresh_from_db()
        parent = run_create(
            project=project, strategy=strategy, params=params, shots=0, seed=1, name="before", actor=owner
        )
        run_train(run=parent)
        run_predict(run=parent, split="test")
        run_evaluate(run=parent, split="test")
        science = nodes[("Science",)]
        result = node_split(node=science, children=["Physics", "Biology"], actor=owner)
        children = {c.name: c for c in result["children"]}
        true_leaf = {doc.pk: d["path"][1] for doc, d in zip(made, docs, strict=True) if d["path"][0] == "Science"}
        for doc in Document.objects.filter(pk__in=result["task"].document_ids):
            leaf = children[true_leaf[doc.pk]]
            split_task_decide(task=result["task"], document=doc, annotator=owner, path=[science.pk, leaf.pk])
        parent.refresh_from_db()
        return {"parent": parent, "science": science, "children": children, "true_leaf": true_leaf, "project": project}

    return make


@pytest.fixture
def grown(make_grown):
    return make_grown("tfidf")


def _run_job(run: Run) -> Job:
    job = job_create(kind="update_labels", project=run.project, params={"run_id": run.pk, "split": "test"})
    job = run_job_inline(job, show_progress=False)
    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED, job.error
    run.refresh_from_db()
    return job


def test_split_node_update_keeps_predictions_for_untouched_nodes(grown, owner):
    parent, science = grown["parent"], grown["science"]
    run = run_update_create(parent=parent, name="after", rehearsal=0.5, actor=owner)
    assert run.parent_run == parent and run.state == Run.State.NEW
    _run_job(run)

    assert run.state == Run.State.TRAINED and run.taxonomy_version > parent.taxonomy_version
    before = dict(Prediction.objects.filter(run=parent).values_list("document_id", "paths"))
    after = dict(Prediction.objects.filter(run=run).values_list("document_id", "paths"))
    assert set(before) == set(after) and len(after) == 12  # the test split
    untouched = [pk for pk in after if pk not in grown["true_leaf"]]
    assert len(untouched) == 8
    assert all(science.pk not in before[pk][0] for pk in untouched)  # the parent did not send them to Science
    assert [after[pk] for pk in untouched] == [before[pk] for pk in untouched]  # identical before and after
    # the split documents now go to the right child
    for pk, leaf in grown["true_leaf"].items():
        if pk in after:
            assert after[pk] == [[science.pk, grown["children"][leaf].pk]]
    report = run.stats["growth"]["forgetting"]
    assert report["old_labels"] == {
        "documents": 8,
        "before": 1.0,
        "after": 1.0,
        "drop": 0.0,
        "unchanged_predictions": 8,
    }
    assert report["new_labels"]["documents"] == 4 and report["new_labels"]["after"] == 1.0
    assert report["new_labels"]["before"] == 0.0  # the parent cannot name a label it never saw
    assert run.stats["growth"]["updated_groups"] == [science.pk]
    assert run.evaluations.get(split="test").metrics["exact_path_accuracy"] == 1.0


def test_update_records_new_and_rehearsal_documents(grown, owner):
    parent = grown["parent"]
    run = run_update_create(parent=parent, name="after", rehearsal=0.25, actor=owner)
    growth = run.stats["growth"]
    science_docs = set(grown["true_leaf"])
    non_test = set(Document.objects.exclude(split="test").values_list("id", flat=True))
    # new: the decided Science documents outside the test split (4 train + 1 dev per leaf)
    assert set(growth["new_document_ids"]) == science_docs & non_test and len(growth["new_document_ids"]) == 10
    # rehearsal: a quarter of the parent's 16 training documents on other labels
    assert growth["rehearsal_pool"] == 16 and len(growth["rehearsal_document_ids"]) == 4
    assert set(growth["rehearsal_document_ids"]) <= set(parent.train_document_ids) - science_docs
    assert run.train_document_ids == sorted(growth["new_document_ids"] + growth["rehearsal_document_ids"])
    assert growth["new_labels"] == sorted(c.pk for c in grown["children"].values())
    assert growth["changed_parents"] == [grown["science"].pk]


@pytest.mark.parametrize("share, expected", [(0.0, 0), (0.5, 8), (1.0, 16)])
def test_rehearsal_share_sets_the_sample_size(grown, owner, share, expected):
    run = run_update_create(parent=grown["parent"], name=f"r{share}", rehearsal=share, actor=owner)
    assert len(run.stats["growth"]["rehearsal_document_ids"]) == expected


def test_update_refuses_bad_requests_with_clear_messages(grown, owner):
    parent = grown["parent"]
    with pytest.raises(ValidationError, match="between 0 and 1"):
        run_update_create(parent=parent, rehearsal=1.5)
    with pytest.raises(ValidationError, match="already exists"):
        run_update_create(parent=parent, name="before")
    # a run trained on the current taxonomy has nothing to update
    fresh = run_create(project=grown["project"], strategy="tfidf", shots=1, seed=2, name="fresh")
    run_train(run=fresh)
    with pytest.raises(ValidationError, match="nothing to update"):
        run_update_create(parent=fresh)
    # new labels that no document carries yet
    node_split(node=Node.objects.get(name="Tennis"), children=["Clay", "Grass"], actor=owner)
    with pytest.raises(ValidationError, match="which child"):
        run_update_create(parent=fresh)
    assert Run.objects.count() == 2


@pytest.mark.parametrize("strategy", ["hiericrf", "zeroshot", "llm-dl"])
def test_update_is_refused_for_strategies_it_cannot_update(grown, strategy):
    other = Run.objects.create(
        project=grown["project"], name=strategy, strategy=strategy, state=Run.State.TRAINED, model_dir="x"
    )
    with pytest.raises(ValidationError) as info:
        run_update_create(parent=other)
    message = " ".join(info.value.messages)
    assert f"not implemented for the {strategy!r} strategy" in message
    assert "Train a new run" in message


def test_command_updates_a_run_and_prints_the_report(grown, capsys):
    call_command("htc_update_run", "--run", "before", "--name", "cli", "--rehearsal", "0.5", "--no-progress")
    out = capsys.readouterr().out
    run = Run.objects.get(name="cli")
    assert run.parent_run == grown["parent"] and run.state == Run.State.TRAINED
    assert "old labels: 8 documents, accuracy 1.000 before, 1.000 after" in out
    assert "new labels: 4 documents, accuracy 1.000" in out
    with pytest.raises(CommandError, match="between 0 and 1"):
        call_command("htc_update_run", "--run", "before", "--name", "x", "--rehearsal", "2", "--no-progress")
    Run.objects.create(project=grown["project"], name="crf", strategy="hiericrf", state="trained", model_dir="x")
    with pytest.raises(CommandError, match="not implemented for the 'hiericrf' strategy"):
        call_command("htc_update_run", "--run", "crf", "--name", "y", "--no-progress")


def test_run_page_shows_the_forgetting_report_and_starts_updates(grown, owner, client_for, make_user, add_member):
    client = client_for(owner)
    parent = grown["parent"]
    page = client.get(reverse("classifiers:run", args=[parent.project_id, parent.pk]))
    assert b'id="update-form"' in page.content
    response = client.post(
        reverse("classifiers:run_update", args=[parent.project_id, parent.pk]),
        {"name": "web", "rehearsal": "0.3", "epochs": "2"},
    )
    run = Run.objects.get(name="web")
    assert response.status_code == 302 and response["Location"].endswith(f"/runs/{run.pk}/")
    assert Job.objects.filter(kind="update_labels", target_id=run.pk).exists()
    _run_job(run)
    page = client.get(reverse("classifiers:run", args=[run.project_id, run.pk]))
    assert b'id="forgetting-report"' in page.content and b'id="forgetting-plot"' in page.content
    assert page.context["forgetting"]["old_labels"]["documents"] == 8
    viewer = make_user("vic")
    add_member(grown["project"], viewer, "viewer")
    denied = client_for(viewer).post(reverse("classifiers:run_update", args=[parent.project_id, parent.pk]), {})
    assert denied.status_code == 403


def test_hierverb_runs_are_updated_by_fine_tuning_and_report_forgetting(make_grown, owner, tmp_path):
    import torch

    from classifiers.engine.config import configure, engine_config
    from tests.engine.test_verbalizer import write_tiny_checkpoint

    threads, config = torch.get_num_threads(), engine_config()
    torch.set_num_threads(1)
    try:
        # The operator's setting (HTC_ENCODER_PATH, handed to the engine), not a run parameter.
        configure(encoder_path=str(write_tiny_checkpoint(tmp_path / "tiny", mlm_head=True)))
        params = {"max_length": 24, "batch_size": 8, "epochs": 1, "lr": 1e-3}
        grown = make_grown("hierverb", params)
        run = run_update_create(parent=grown["parent"], name="hv-after", rehearsal=0.25, epochs=1, actor=owner)
        _run_job(run)
    finally:
        torch.set_num_threads(threads)
        configure(**dataclasses.asdict(config))
    growth = run.stats["growth"]
    assert run.state == Run.State.TRAINED and growth["epochs"] == 1
    assert len(growth["new_document_ids"]) == 10 and len(growth["rehearsal_document_ids"]) == 4
    report = growth["forgetting"]
    assert report["old_labels"]["documents"] == 8 and report["new_labels"]["documents"] == 4
    # the numbers are those of the stored predictions of both runs on the untouched test documents
    gold = {
        d.pk: [n.parent_id, n.pk] for d in Document.objects.filter(split="test") for n in [d.gold_labels.get().node]
    }
    untouched = [pk for pk in gold if pk not in grown["true_leaf"]]
    for which, r in (("before", grown["parent"]), ("after", run)):
        paths = dict(Prediction.objects.filter(run=r).values_list("document_id", "paths"))
        right = sum(bool(paths[pk]) and paths[pk][0][:2] == gold[pk] for pk in untouched)
        assert report["old_labels"][which] == right / len(untouched), which
    with pytest.raises(ValidationError, match="whole number"):
        run_update_create(parent=grown["parent"], name="bad", epochs=0)
