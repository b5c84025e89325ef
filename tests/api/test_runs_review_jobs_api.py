"""Runs start as jobs (nothing trains in the request), predictions, corrections with provenance, job cancel."""

from __future__ import annotations

import json

import pytest

from classifiers.models import Run
from corpora.models import GoldLabel
from jobs.models import Job
from review.models import Correction

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(world):
    return f"/api/v1/projects/{world['project'].pk}/"


def test_starting_a_run_queues_its_pipeline_job_and_trains_nothing(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    response = client.post(base + "runs/", {"strategy": "tfidf", "shots": 1, "name": "api"}, format="json")
    assert response.status_code == 202
    run, job = response.json()["run"], response.json()["job"]
    assert run["name"] == "api" and run["state"] == "new" and run["created_by"] == "annotator"
    row = Job.objects.get(pk=job["id"])
    assert row.kind == "pipeline" and row.params == {"run_id": run["id"], "split": "test"}
    assert row.state == Job.State.QUEUED and (row.target_type, row.target_id) == ("run", run["id"])
    assert Run.objects.get(pk=run["id"]).model_dir == ""


def test_an_unknown_strategy_is_refused_and_creates_nothing(world, token_client, base):
    client = token_client(world["users"]["owner"])
    runs, jobs = Run.objects.count(), Job.objects.count()
    response = client.post(base + "runs/", {"strategy": "magic"}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "strategy"
    assert (Run.objects.count(), Job.objects.count()) == (runs, jobs)


@pytest.mark.parametrize("params", [{"C": "a\x00b"}, {"not an identifier": 1}, {"C": ["\ud800"]}])
def test_run_params_the_database_cannot_store_are_a_400(world, token_client, base, params):
    client = token_client(world["users"]["owner"])
    runs = Run.objects.count()
    body = json.dumps({"strategy": "tfidf", "params": params})  # ASCII escapes: a lone surrogate survives
    response = client.post(base + "runs/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "params"
    assert Run.objects.count() == runs


def test_a_run_job_predicts_a_split_in_the_background(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    response = client.post(base + f"runs/{world['run'].pk}/jobs/", {"kind": "evaluate", "split": "dev"}, format="json")
    assert response.status_code == 202
    assert Job.objects.get(pk=response.json()["id"]).params == {"run_id": world["run"].pk, "split": "dev"}


def test_a_second_job_on_a_run_is_refused_while_the_first_is_queued_or_running(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    url = base + f"runs/{world['run'].pk}/jobs/"
    first = client.post(url, {"kind": "predict", "split": "test"}, format="json")
    assert first.status_code == 202
    for kind in ("predict", "evaluate"):
        again = client.post(url, {"kind": kind, "split": "dev"}, format="json")
        assert again.status_code == 400 and again.json()["errors"][0]["field"] == "kind"
        assert f"Job #{first.json()['id']} (predict) on this run is still queued" in again.json()["detail"]
    Job.objects.filter(pk=first.json()["id"]).update(state=Job.State.RUNNING)
    assert "is still running" in client.post(url, {"kind": "predict", "split": "dev"}, format="json").json()["detail"]
    Job.objects.filter(pk=first.json()["id"]).update(state=Job.State.SUCCEEDED)
    assert client.post(url, {"kind": "evaluate", "split": "dev"}, format="json").status_code == 202


@pytest.mark.parametrize(
    ("state", "model_dir", "kind"),
    [
        (Run.State.NEW, "", "predict"),
        (Run.State.CANCELLED, "", "predict"),
        (Run.State.FAILED, "", "evaluate"),
        (Run.State.TRAINING, "", "pipeline"),
        (Run.State.TRAINED, "", "predict"),  # "trained" but no model kept
    ],
)
def test_a_run_job_that_cannot_work_on_the_run_is_refused_in_the_error_shape(
    world, token_client, base, state, model_dir, kind
):
    Run.objects.filter(pk=world["run"].pk).update(state=state, model_dir=model_dir)
    jobs = Job.objects.count()
    response = token_client(world["users"]["annotator"]).post(
        base + f"runs/{world['run'].pk}/jobs/", {"kind": kind, "split": "test"}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["field"] == "kind" and f"cannot {kind} now" in body["detail"]
    assert Job.objects.count() == jobs


def test_evaluating_a_trained_run_without_predictions_is_refused(world, token_client, base):
    world["run"].predictions.all().delete()
    response = token_client(world["users"]["annotator"]).post(
        base + f"runs/{world['run'].pk}/jobs/", {"kind": "evaluate", "split": "test"}, format="json"
    )
    assert response.status_code == 400 and "predict first" in response.json()["detail"]


@pytest.mark.parametrize(
    ("state", "model_dir", "predictions"),
    [
        (Run.State.NEW, "", False),
        (Run.State.CANCELLED, "", False),
        (Run.State.FAILED, "", True),
        (Run.State.TRAINING, "", False),
        (Run.State.TRAINED, "run-1", False),
        (Run.State.TRAINED, "run-1", True),
    ],
)
def test_the_api_accepts_exactly_the_actions_the_run_page_offers(
    world, token_client, client_for, base, state, model_dir, predictions
):
    import re

    from django.urls import reverse

    run = world["run"]
    Run.objects.filter(pk=run.pk).update(state=state, model_dir=model_dir)
    if not predictions:
        run.predictions.all().delete()
    page = client_for(world["users"]["annotator"]).get(reverse("classifiers:run", args=[world["project"].pk, run.pk]))
    form = re.search(r'<form[^>]*id="run-job-form".*?</form>', page.content.decode(), re.S)
    offered = (
        set(re.findall(r'<option value="(\w+)"', re.search(r'<select name="kind".*?</select>', form[0], re.S)[0]))
        if form
        else set()
    )
    client = token_client(world["users"]["annotator"])
    accepted = set()
    for kind in ("predict", "evaluate", "pipeline"):
        response = client.post(base + f"runs/{run.pk}/jobs/", {"kind": kind, "split": "test"}, format="json")
        assert response.status_code in (202, 400), response.content
        if response.status_code == 202:
            accepted.add(kind)
            Job.objects.filter(pk=response.json()["id"]).delete()
    assert accepted == offered


def test_run_detail_lists_evaluations_and_prediction_count(world, token_client, base):
    from classifiers.models import Evaluation

    Evaluation.objects.create(run=world["run"], split="test", metrics={"micro_f1": 0.5}, document_count=2)
    body = token_client(world["users"]["viewer"]).get(base + f"runs/{world['run'].pk}/").json()
    assert body["prediction_count"] == 6
    assert body["evaluations"][0]["split"] == "test" and body["evaluations"][0]["metrics"] == {"micro_f1": 0.5}


def test_accepting_a_prediction_records_provenance_and_keeps_uploaded_gold(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    pred = world["preds"][1]
    response = client.post(base + "corrections/", {"prediction": pred.pk, "action": "accept"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["annotator"] == "annotator" and body["run"] == world["run"].pk and body["strategy"] == "tfidf"
    assert body["after_names"] == [["Sci", "Bio"]] and body["is_current"] is True
    assert body["source"] == "annotator" and body["test_split"] is (pred.document.split == "test")
    gold = list(GoldLabel.objects.filter(document=pred.document).values_list("node_id", "source"))
    assert all(source == "import" for _, source in gold)  # review never writes the uploaded gold
    assert body["current_label"]["source"] == "annotators"


def test_changing_to_an_invalid_path_is_a_400_and_records_nothing(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    bad = [world["nodes"]["Sport"].pk, world["nodes"]["Sci > Bio"].pk]
    before = Correction.objects.count()
    response = client.post(
        base + "corrections/", {"document": world["docs"][2].pk, "action": "change", "paths": [bad]}, format="json"
    )
    assert response.status_code == 400 and "is not a child of" in response.json()["detail"]
    assert Correction.objects.count() == before


def test_settling_needs_the_owner_role(world, token_client, base):
    body = {"prediction": world["preds"][2].pk, "action": "accept", "settles": True}
    before = Correction.objects.count()
    assert token_client(world["users"]["annotator"]).post(base + "corrections/", body, format="json").status_code == 403
    assert Correction.objects.count() == before
    assert token_client(world["users"]["owner"]).post(base + "corrections/", body, format="json").status_code == 201


def test_a_prediction_of_another_project_is_refused(world, token_client, base):
    from classifiers.models import Prediction
    from corpora.models import Corpus, Document

    corpus = Corpus.objects.create(project=world["other"], name="c")
    doc = Document.objects.create(project=world["other"], corpus=corpus, external_id="o", text="t")
    run = Run.objects.create(project=world["other"], name="theirs", strategy="tfidf")
    pred = Prediction.objects.create(run=run, document=doc, paths=[[world["other_node"].pk]])
    response = token_client(world["users"]["owner"]).post(
        base + "corrections/", {"prediction": pred.pk, "action": "accept"}, format="json"
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "prediction"
    assert not Correction.objects.filter(document=doc).exists()


def test_undo_restores_the_previous_decision_and_only_for_its_author(world, token_client, base):
    correction = world["correction"]  # the owner's accept on d0
    refused = token_client(world["users"]["annotator"]).post(base + f"corrections/{correction.pk}/undo/")
    assert refused.status_code == 400
    response = token_client(world["users"]["owner"]).post(base + f"corrections/{correction.pk}/undo/")
    assert response.status_code == 201
    assert response.json()["before_paths"] == correction.after_paths
    correction.refresh_from_db()
    assert correction.superseded_by_id == response.json()["id"]
    current = token_client(world["users"]["viewer"]).get(base + "corrections/", {"current": "true"}).json()
    assert [c["id"] for c in current["results"]] == [response.json()["id"]]


def test_cancel_a_queued_job(world, token_client, base):
    client = token_client(world["users"]["owner"])
    job = world["job"]
    response = client.post(base + f"jobs/{job.pk}/cancel/")
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    again = client.post(base + f"jobs/{job.pk}/cancel/")
    assert again.status_code == 400 and "already finished" in again.json()["detail"]


def test_annotators_cancel_only_their_own_jobs(world, token_client, base):
    client = token_client(world["users"]["annotator"])
    owners_job = world["job"]
    assert client.get(base + f"jobs/{owners_job.pk}/").json()["can_cancel"] is False
    assert client.post(base + f"jobs/{owners_job.pk}/cancel/").status_code == 403
    owners_job.refresh_from_db()
    assert owners_job.state == Job.State.QUEUED


def test_job_list_filters_by_state_and_kind(world, token_client, base):
    Job.objects.create(project=world["project"], kind="corpus_import", state=Job.State.FAILED)
    client = token_client(world["users"]["viewer"])
    failed = client.get(base + "jobs/", {"state": "failed"}).json()["results"]
    assert [j["kind"] for j in failed] == ["corpus_import"]
    assert [j["kind"] for j in client.get(base + "jobs/", {"kind": "noop"}).json()["results"]] == ["noop"]
    assert client.get(base + "jobs/", {"state": "exploded"}).status_code == 400


def test_retrain_with_corrections_starts_a_child_run(world, token_client, base):
    response = token_client(world["users"]["annotator"]).post(base + f"runs/{world['run'].pk}/retrain/")
    assert response.status_code == 202
    run = Run.objects.get(pk=response.json()["run"]["id"])
    assert run.parent_run_id == world["run"].pk and run.name == "run-1+corrections"


def test_the_run_page_and_the_api_start_the_same_run(world, token_client, client_for, base):
    """One way in: both call services.run_start, so the same request gives the same run and the same job."""
    from django.urls import reverse

    owner, project = world["users"]["owner"], world["project"]
    page = client_for(owner).post(
        reverse("classifiers:runs", args=[project.pk]),
        {"strategy": "tfidf", "shots": 1, "seed": 7, "split": "test", "name": "", "corrector": "", "params": ""},
    )
    assert page.status_code == 302
    api = token_client(owner).post(
        base + "runs/", {"strategy": "tfidf", "shots": 1, "seed": 7, "split": "test"}, format="json"
    )
    assert api.status_code == 202
    first, second = Run.objects.filter(project=project, seed=7).order_by("pk")
    assert [first.name, second.name] == ["tfidf-k1-s7", "tfidf-k1-s7-2"]  # one naming rule
    fields = ("strategy", "params", "shots", "corrector", "train_document_ids", "dev_document_ids", "taxonomy_version")
    assert [getattr(first, f) for f in fields] == [getattr(second, f) for f in fields]
    jobs = Job.objects.filter(target_type="run", target_id__in=[first.pk, second.pk])
    assert sorted((j.kind, j.params["split"], j.queue) for j in jobs) == [("pipeline", "test", "cpu")] * 2
    # ... and refuse the same bad input with the same message.
    bad = {"strategy": "tfidf", "shots": 1, "seed": 7, "split": "test", "params": {"api_key": "x"}}
    api_error = token_client(owner).post(base + "runs/", bad, format="json").json()
    form = client_for(owner).post(
        reverse("classifiers:runs", args=[project.pk]), {**bad, "params": "api_key=x", "corrector": "", "name": ""}
    )
    assert api_error["errors"][0]["message"] in form.content.decode()
