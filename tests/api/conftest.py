"""A small world for the API tests: one project with every role, data in every resource, and a stranger."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from projects.models import Role


@pytest.fixture
def token_client():
    """token_client(user) -> an APIClient that sends `Authorization: Bearer <new token of user>`."""
    from api.services import token_create

    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            _, key = token_create(user=user, name="tests")
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def world(project, owner):
    """Demo project: owner, annotator, viewer and a spare viewer ("extra"); a stranger owning another project.

    Taxonomy Sci > {Phys > {Astro, Quantum}, Bio}, Sport > Team; six documents (four train, two test) with
    gold paths; a trained run (model kept) with predictions for every document; one correction (by the owner) and one queued job.
    """
    return api_world_build(project, owner)


@pytest.fixture(scope="module")
def module_world(django_db_setup, django_db_blocker):
    """The same world, built once per module and rolled back at its end; each test writes in a savepoint of its
    own (see rolled_back_module_data). A module opts in with a `world` fixture returning a deep copy of it."""
    from django.contrib.auth import get_user_model

    from projects.services import project_create
    from tests.conftest import PASSWORD, rolled_back_module_data

    def build() -> dict:
        owner = get_user_model().objects.create_user(username="owner", password=PASSWORD)
        return api_world_build(project_create(name="Demo", owner=owner), owner)

    with rolled_back_module_data(django_db_blocker, build) as built:
        yield built


def api_world_build(project, owner) -> dict:
    """The `world` fixture's rows for `project` (owned by `owner`); see there."""
    from django.contrib.auth import get_user_model

    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document, GoldLabel
    from jobs.models import Job
    from projects.models import Membership
    from projects.services import project_create
    from review.services import correction_record
    from tests.conftest import PASSWORD, tree_build

    def make_user(username):
        return get_user_model().objects.create_user(username=username, password=PASSWORD)

    def add_member(project, user, role):
        Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})

    users = {"owner": owner}
    for role in ("annotator", "viewer", "extra"):
        users[role] = make_user(role)
        add_member(project, users[role], Role.VIEWER if role == "extra" else role)
    users["stranger"] = make_user("stranger")
    other = project_create(name="Other", owner=users["stranger"])
    other_nodes = tree_build(other, {"Elsewhere": {}})
    nodes = tree_build(project, {"Sci": {"Phys": {"Astro": {}, "Quantum": {}}, "Bio": {}}, "Sport": {"Team": {}}})
    corpus = Corpus.objects.create(project=project, name="seed", created_by=owner)
    gold = ["Sci > Phys > Astro", "Sci > Bio", "Sport > Team", "Sci > Phys > Quantum", "Sci > Bio", "Sport > Team"]
    docs = []
    for i, key in enumerate(gold):
        doc = Document.objects.create(
            project=project,
            corpus=corpus,
            external_id=f"d{i}",
            text=f"document {i} about {key}",
            split="train" if i < 4 else "test",
            length=20,
        )
        GoldLabel.objects.create(document=doc, node=nodes[key])
        docs.append(doc)
    # Trained, with a kept model (its folder is never read here), so it offers predict and evaluate.
    run = Run.objects.create(
        project=project, name="run-1", strategy="tfidf", state=Run.State.TRAINED, model_dir="run-1", created_by=owner
    )

    def path(key: str) -> list[int]:
        parts = key.split(" > ")
        return [nodes[" > ".join(parts[: i + 1])].pk for i in range(len(parts))]

    preds = [
        Prediction.objects.create(
            run=run,
            document=doc,
            paths=[path(key)],
            scores=[0.9] * len(path(key)),
            margin=0.1 * i,
            stage="tfidf",
            leaf_node=path(key)[-1],
        )
        for i, (doc, key) in enumerate(zip(docs, gold, strict=True))
    ]
    correction = correction_record(
        project=project, document=docs[0], annotator=owner, action="accept", prediction=preds[0]
    )
    job = Job.objects.create(project=project, kind="noop", created_by=owner)
    return {
        "project": project,
        "other": other,
        "other_node": other_nodes["Elsewhere"],
        "users": users,
        "nodes": nodes,
        "path": path,
        "corpus": corpus,
        "docs": docs,
        "run": run,
        "preds": preds,
        "correction": correction,
        "job": job,
    }
