"""Cold start and growth through the API: terms, enrichment and example jobs, pseudo-labels, split, review tasks
("which child?"), run update for new labels; generated documents and prediction stages as filters."""

from __future__ import annotations

import pytest

from classifiers.models import PseudoLabel, Run
from corpora.models import GoldLabel
from jobs.models import Job
from review.models import Correction, ReviewTask
from taxonomies.models import Node, TaxonomyChange
from tests.api.test_permission_matrix import outdated_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def base(world):
    return f"/api/v1/projects/{world['project'].pk}/"


@pytest.fixture
def owner_api(world, token_client):
    return token_client(world["users"]["owner"])


@pytest.fixture
def annotator_api(world, token_client):
    return token_client(world["users"]["annotator"])


def _errors(response) -> list[str]:
    return [e["message"] for e in response.json()["errors"]]


# ----- terms -----
def test_terms_are_edited_like_the_editor_does_source_edited_and_recorded(world, owner_api, base):
    node = world["nodes"]["Sci > Phys"]
    Node.objects.filter(pk=node.pk).update(terms=["mined"], terms_source="mined")
    url = base + f"taxonomy/nodes/{node.pk}/terms/"
    assert owner_api.get(url).json() == {"node": node.pk, "terms": ["mined"], "terms_source": "mined"}
    changes = TaxonomyChange.objects.count()
    response = owner_api.put(url, {"terms": [" force ", "energy", "force", ""]}, format="json")
    assert response.status_code == 200
    assert response.json() == {"node": node.pk, "terms": ["force", "energy"], "terms_source": "edited"}
    node.refresh_from_db()
    assert (node.terms, node.terms_source) == (["force", "energy"], "edited")
    change = TaxonomyChange.objects.order_by("-id").first()
    assert TaxonomyChange.objects.count() == changes + 1
    assert change.actor == world["users"]["owner"] and change.details["terms"] == ["force", "energy"]
    assert owner_api.get(base + f"taxonomy/nodes/{node.pk}/").json()["terms_source"] == "edited"


def test_terms_the_service_refuses_are_a_400_and_nothing_changes(world, owner_api, base):
    node = world["nodes"]["Sci"]
    url = base + f"taxonomy/nodes/{node.pk}/terms/"
    too_many = owner_api.put(url, {"terms": [f"t{i}" for i in range(201)]}, format="json")
    too_long = owner_api.put(url, {"terms": ["x" * 101]}, format="json")
    assert too_many.status_code == too_long.status_code == 400
    assert too_long.json()["errors"][0]["field"] == "terms.0"
    node.refresh_from_db()
    assert node.terms == [] and node.terms_source == ""


# ----- split and review tasks -----
def test_split_makes_children_and_a_which_child_task_decided_through_the_api(world, owner_api, annotator_api, base):
    bio = world["nodes"]["Sci > Bio"]
    response = owner_api.post(base + f"taxonomy/nodes/{bio.pk}/split/", {"children": ["Cell", "Plant"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert [c["name"] for c in body["children"]] == ["Cell", "Plant"]
    assert [c["path"] for c in body["children"]][0] == ["Sci", "Bio", "Cell"]
    on_bio = sorted(d.pk for d in world["docs"] if GoldLabel.objects.filter(document=d, node=bio).exists())
    assert body["documents"] == len(on_bio) == 2
    assert body["task"]["total"] == body["task"]["remaining"] == 2 and body["task"]["node_path"] == ["Sci", "Bio"]
    assert TaxonomyChange.objects.order_by("-id").first().action == "split"
    task_id = body["task"]["id"]
    listed = annotator_api.get(base + "review-tasks/").json()["results"]
    assert [t["id"] for t in listed] == [task_id]

    detail = annotator_api.get(base + f"review-tasks/{task_id}/").json()
    cell = next(c["id"] for c in body["children"] if c["name"] == "Cell")
    assert detail["remaining_document_ids"] == detail["document_ids"] == on_bio
    assert set(detail["choices"]) == {c["id"] for c in body["children"]}
    assert detail["next_document"] == on_bio[0]

    decide = base + f"review-tasks/{task_id}/decide/"
    path = [world["nodes"]["Sci"].pk, bio.pk, cell]
    made = annotator_api.post(decide, {"document": on_bio[0], "path": path}, format="json")
    assert made.status_code == 201
    correction = Correction.objects.get(pk=made.json()["id"])
    assert correction.annotator == world["users"]["annotator"] and correction.after_paths == [path]
    after = annotator_api.get(base + f"review-tasks/{task_id}/").json()
    assert after["next_document"] == on_bio[1]  # the annotator decided the first one


def test_split_and_decide_refusals_carry_the_service_messages(world, owner_api, annotator_api, base):
    bio = world["nodes"]["Sci > Bio"]
    twice = owner_api.post(base + f"taxonomy/nodes/{bio.pk}/split/", {"children": ["A", "A"]}, format="json")
    assert twice.status_code == 400 and "given twice" in _errors(twice)[0]
    assert not Node.objects.filter(parent=bio).exists() and not ReviewTask.objects.exists()
    task = owner_api.post(base + f"taxonomy/nodes/{bio.pk}/split/", {"children": ["Cell"]}, format="json").json()
    decide = base + f"review-tasks/{task['task']['id']}/decide/"
    corrections = Correction.objects.count()
    outside = annotator_api.post(
        decide, {"document": world["docs"][1].pk, "path": world["path"]("Sport > Team")}, format="json"
    )
    assert outside.status_code == 400 and _errors(outside) == ["Choose a label under 'Bio'."]
    not_in_task = annotator_api.post(
        decide, {"document": world["docs"][0].pk, "path": task["children"][0]["path_ids"]}, format="json"
    )
    assert not_in_task.status_code == 400 and _errors(not_in_task) == ["This document is not part of the task."]
    foreign = annotator_api.post(
        decide,
        {"document": world["docs"][1].pk, "path": [world["other_node"].pk, task["children"][0]["id"]]},
        format="json",
    )
    assert foreign.status_code == 400 and world["other_node"].name not in foreign.content.decode()
    missing = annotator_api.post(decide, {"document": 10**9, "path": [1]}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "document"
    assert Correction.objects.count() == corrections


def test_another_projects_task_is_a_404(world, token_client, base):
    from taxonomies.splitting import node_split

    other = world["other_node"]
    node_split(node=other, children=["X"], actor=world["users"]["stranger"])
    ReviewTask.objects.create(project=world["other"], node=other, document_ids=[1])
    task = ReviewTask.objects.get(project=world["other"])
    response = token_client(world["users"]["owner"]).get(base + f"review-tasks/{task.pk}/")
    assert response.status_code == 404


# ----- cold-start jobs -----
def test_enrichment_is_a_queued_job_with_the_editors_params_and_is_not_started_twice(world, owner_api, base):
    response = owner_api.post(base + "taxonomy/enrich/", {"source": "both", "top_k": 12}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert job.kind == "taxonomy_enrich" and job.state == Job.State.QUEUED
    assert job.params == {"top_k": 12, "corpus": True, "llm": True, "replace_edited": False}
    again = owner_api.post(base + "taxonomy/enrich/", {}, format="json")
    assert again.status_code == 202 and again.json()["id"] == job.pk
    assert Job.objects.filter(kind="taxonomy_enrich").count() == 1


@pytest.mark.parametrize("body", [{"source": "web"}, {"top_k": 0}, {"top_k": 51}])
def test_enrichment_parameters_out_of_range_are_a_400(world, owner_api, base, body):
    response = owner_api.post(base + "taxonomy/enrich/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] in body
    assert not Job.objects.filter(kind="taxonomy_enrich").exists()


def test_example_generation_is_a_queued_job(world, owner_api, base):
    assert owner_api.post(base + "taxonomy/examples/", {"per_leaf": 21}, format="json").status_code == 400
    response = owner_api.post(base + "taxonomy/examples/", {"per_leaf": 4}, format="json")
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["id"])
    assert (job.kind, job.params, job.created_by) == ("examples_generate", {"per_leaf": 4}, world["users"]["owner"])


# ----- pseudo-labels, generated documents, stages -----
def test_pseudo_labels_most_confident_first_with_names(world, token_client, base):
    run, docs = world["run"], world["docs"]
    PseudoLabel.objects.create(run=run, document=docs[2], path=world["path"]("Sport > Team"), confidence=0.4)
    PseudoLabel.objects.create(run=run, document=docs[0], path=world["path"]("Sci > Bio"), confidence=0.9)
    response = token_client(world["users"]["viewer"]).get(base + f"runs/{run.pk}/pseudo-labels/")
    rows = response.json()["results"]
    assert [r["document"] for r in rows] == [docs[0].pk, docs[2].pk]
    assert rows[0]["path_names"] == ["Sci", "Bio"] and rows[0]["confidence"] == 0.9
    assert rows[1]["document_external_id"] == "d2" and rows[1]["document_generated"] is False


def test_documents_filter_on_generated(world, token_client, base):
    from corpora.models import Document

    Document.objects.filter(pk=world["docs"][3].pk).update(generated=True)
    client = token_client(world["users"]["viewer"])
    generated = client.get(base + "documents/?generated=true").json()["results"]
    real = client.get(base + "documents/?generated=false").json()["results"]
    assert [d["id"] for d in generated] == [world["docs"][3].pk] and generated[0]["generated"] is True
    assert len(real) == 5 and not any(d["generated"] for d in real)
    assert client.get(base + "documents/?generated=maybe").status_code == 400


def test_predictions_filter_on_the_runs_own_stages(world, token_client, base):
    from classifiers.models import Prediction

    run, preds = world["run"], world["preds"]
    Prediction.objects.filter(pk__in=[preds[0].pk, preds[3].pk]).update(stage="1:tfidf")
    Prediction.objects.filter(pk=preds[5].pk).update(stage="review")
    client = token_client(world["users"]["viewer"])
    url = base + f"runs/{run.pk}/predictions/"
    first = client.get(url + "?stage=1:tfidf").json()["results"]
    assert [p["id"] for p in first] == [preds[0].pk, preds[3].pk] and first[0]["stage"] == "1:tfidf"
    assert [p["id"] for p in client.get(url + "?stage=review").json()["results"]] == [preds[5].pk]
    unknown = client.get(url + "?stage=2:embed")
    assert unknown.status_code == 400
    assert "1:tfidf, review, tfidf" in _errors(unknown)[0]
    Prediction.objects.filter(run=run).update(stage="")
    assert _errors(client.get(url + "?stage=review")) == ["No prediction of this run names a stage."]


# ----- run update -----
def test_run_update_creates_a_child_run_and_queues_update_labels(world, annotator_api, base):
    ids = outdated_run(world)
    response = annotator_api.post(base + f"runs/{ids['outdated_run']}/update/", {"rehearsal": 1.0}, format="json")
    assert response.status_code == 202
    run = Run.objects.get(pk=response.json()["run"]["id"])
    assert run.parent_run_id == ids["outdated_run"] and run.name == "parent+new-labels"
    assert run.stats["growth"]["new_labels"] == [ids["cell"]]
    assert run.stats["growth"]["new_document_ids"] == [world["docs"][1].pk]
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == "update_labels" and job.params == {"run_id": run.pk, "split": "test"}


def test_run_update_refusals_carry_the_service_messages(world, annotator_api, base):
    runs = Run.objects.count()
    plain = annotator_api.post(base + f"runs/{world['run'].pk}/update/", {}, format="json")
    assert plain.status_code == 400 and "model files of run 'run-1' are missing" in _errors(plain)[0]
    untrained = Run.objects.create(project=world["project"], name="untrained", strategy="tfidf")
    fresh = annotator_api.post(base + f"runs/{untrained.pk}/update/", {}, format="json")
    assert fresh.status_code == 400 and "is not trained" in _errors(fresh)[0]
    llm = Run.objects.create(project=world["project"], name="llm", strategy="llm-dl", state=Run.State.TRAINED)
    refused = annotator_api.post(base + f"runs/{llm.pk}/update/", {}, format="json")
    assert refused.status_code == 400 and "Train a new run on the current taxonomy" in _errors(refused)[0]
    ids = outdated_run(world)
    bad = annotator_api.post(base + f"runs/{ids['outdated_run']}/update/", {"rehearsal": 2}, format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "rehearsal"
    assert Run.objects.count() == runs + 3  # untrained, llm and the outdated parent only
    assert not Job.objects.filter(kind="update_labels").exists()


# ----- cascade through the run-start endpoint -----
CASCADE_CASES = [
    [],
    [{"strategy": "nope"}],
    [{"strategy": "tfidf", "threshold": 2}],
    [{"strategy": "tfidf", "colour": 1}],
    [{"strategy": "cascade"}],
    [{"strategy": "tfidf", "threshold": 0.5}] * 4,
]


@pytest.mark.parametrize("stages", CASCADE_CASES)
def test_cascade_stages_are_refused_with_the_forms_messages(world, annotator_api, base, stages):
    import json

    from classifiers.forms import RunForm

    form = RunForm(
        {"strategy": "cascade", "shots": 0, "seed": 1, "split": "test", "params": f"stages={json.dumps(stages)}"}
    )
    assert not form.is_valid()
    response = annotator_api.post(base + "runs/", {"strategy": "cascade", "params": {"stages": stages}}, format="json")
    assert response.status_code == 400
    assert _errors(response) == form.errors["params"]
    assert not Run.objects.filter(strategy="cascade").exists()


def test_a_valid_cascade_starts_with_its_cleaned_stages(world, annotator_api, base):
    stages = [{"strategy": "tfidf", "threshold": 0.7}, {"strategy": "embed"}]
    response = annotator_api.post(base + "runs/", {"strategy": "cascade", "params": {"stages": stages}}, format="json")
    assert response.status_code == 202
    run = Run.objects.get(pk=response.json()["run"]["id"])
    assert [(s["strategy"], s["threshold"]) for s in run.params["stages"]] == [("tfidf", 0.7), ("embed", 0.0)]
    assert Job.objects.get(pk=response.json()["job"]["id"]).kind == "pipeline"


def test_options_on_the_terms_route_is_answered(world, owner_api, base):
    # DRF's OPTIONS asks a PUT view for its object; the terms view must answer it, not fail.
    response = owner_api.options(base + f"taxonomy/nodes/{world['nodes']['Sci'].pk}/terms/")
    assert response.status_code == 200 and "PUT" in response.json()["actions"]
    assert owner_api.options(base + "taxonomy/nodes/999999/terms/").status_code == 200
