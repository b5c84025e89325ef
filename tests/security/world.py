"""A small but complete project for the security tests: every kind of object a UI route can name.

`build_world(name=..., owner=...)` returns a `World` whose ids fill every URL kwarg of htc_app.urls, so the
permission matrix and the CSRF test can call each route of one project with the objects of another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps

from tests.conftest import PASSWORD

# Markup, script breakouts, attribute breakouts and template syntax: what hostile text tries.
PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "</script><script>alert(2)</script>",
    '"><svg/onload=alert(3)>',
    "' onmouseover='alert(4)",
    "{{ 7|add:7 }}{% debug %}",
]
HOSTILE = "".join(PAYLOADS)

# Every app whose rows a refused request must leave untouched.
APP_LABELS = ("projects", "taxonomies", "corpora", "jobs", "classifiers", "review", "endpoints")


@dataclass
class World:
    project: object
    owner: object
    nodes: dict
    corpus: object
    document: object
    run: object
    prediction: object
    correction: object
    job: object
    membership: object
    extra: dict = field(default_factory=dict)

    def kwargs(self) -> dict:
        """Values for every URL kwarg a UI route may take."""
        return {
            "project_id": self.project.pk,
            "node_id": self.nodes["Sci > Bio"].pk,
            "membership_id": self.membership.pk,
            "doc_id": self.document.pk,
            "job_id": self.job.pk,
            "run_id": self.run.pk,
            "prediction_id": self.prediction.pk,
            "correction_id": self.correction.pk,
        }

    def path(self, key: str) -> list[int]:
        parts = key.split(" > ")
        return [self.nodes[" > ".join(parts[: i + 1])].pk for i in range(len(parts))]


def make_user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=PASSWORD)


def build_tree(project, spec: dict, actor=None) -> dict:
    """{"A": {"B": {}}} -> {"A": node, "A > B": node} through the taxonomy service."""
    from taxonomies.services import node_create

    made: dict = {}
    stack = [(name, children, None, name) for name, children in spec.items()]
    while stack:
        name, children, parent, key = stack.pop(0)
        made[key] = node = node_create(taxonomy=project.taxonomy, name=name, parent=parent, actor=actor)
        stack.extend((c, gc, node, f"{key} > {c}") for c, gc in children.items())
    return made


def build_world(*, name: str, owner, member=None) -> World:
    """A project with a 3-level tree, a corpus of three documents, a run with predictions, a decision, a job
    and a second member (`member`, an annotator by default a fresh user) whose membership can be removed."""
    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document, GoldLabel
    from jobs.models import Job
    from projects.models import Membership, Role
    from projects.services import project_create
    from review.services import correction_record

    project = project_create(name=name, owner=owner)
    nodes = build_tree(project, {"Sci": {"Phys": {"Astro": {}}, "Bio": {"Gen": {}}}, "Sport": {"Team": {}}}, owner)
    corpus = Corpus.objects.create(project=project, name=f"{name} corpus", created_by=owner)
    docs = [
        Document.objects.create(
            project=project, corpus=corpus, external_id=f"d{i}", text=f"{name} document {i}", split=split
        )
        for i, split in enumerate(["train", "train", "test"])
    ]
    GoldLabel.objects.create(document=docs[0], node=nodes["Sci > Phys > Astro"])
    GoldLabel.objects.create(document=docs[1], node=nodes["Sport > Team"])
    run = Run.objects.create(project=project, name=f"{name} run", strategy="tfidf", created_by=owner)
    world = World(project, owner, nodes, corpus, docs[2], run, None, None, None, None)
    preds = [
        Prediction.objects.create(
            run=run,
            document=doc,
            paths=[world.path(key)],
            scores=[0.9] * len(world.path(key)),
            margin=0.3,
            stage="tfidf",
            leaf_node=world.path(key)[-1],
        )
        for doc, key in zip(docs, ["Sci > Phys > Astro", "Sport > Team", "Sci > Bio > Gen"], strict=True)
    ]
    world.prediction = preds[2]
    world.correction = correction_record(
        project=project, document=docs[0], annotator=owner, action="accept", prediction=preds[0]
    )
    world.job = Job.objects.create(project=project, kind="pipeline", params={"run_id": run.pk}, created_by=owner)
    from endpoints.models import LLMEndpoint

    LLMEndpoint.objects.create(project=project, base_url="http://127.0.0.1:8081/v1", model="m", updated_by=owner)
    member = member or make_user(f"{name.lower()}-member")
    world.membership = Membership.objects.create(project=project, user=member, role=Role.ANNOTATOR)
    return world


def snapshot() -> dict:
    """Every row of every htc app, as plain values: two snapshots differ exactly when a request wrote something."""
    rows = {}
    for label in APP_LABELS:
        for model in apps.get_app_config(label).get_models():
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(label for label in before.keys() | after.keys() if before.get(label) != after.get(label))


def make_hostile(world: World) -> World:
    """Put hostile text in every field of `world` that people see: project, labels, documents, corpus and file
    names, run name and params, LLM raw output, job error, message, params and result, decisions, a username,
    the endpoint's model name and prompt template."""
    from django.contrib.auth import get_user_model

    from classifiers.models import Prediction, Run
    from corpora.models import Corpus, Document
    from endpoints.models import LLMEndpoint
    from jobs.models import Job
    from projects.models import Project
    from review.models import Correction
    from taxonomies.models import Node

    project = world.project
    Project.objects.filter(pk=project.pk).update(name=HOSTILE, description=HOSTILE)
    for i, node in enumerate(Node.objects.filter(taxonomy__project=project).order_by("pk")):
        Node.objects.filter(pk=node.pk).update(name=f"{PAYLOADS[i % 4]}{i}", description=HOSTILE)
    for i, doc in enumerate(Document.objects.filter(project=project)):
        Document.objects.filter(pk=doc.pk).update(text=HOSTILE, external_id=f"{PAYLOADS[i % 4]}{i}")
    Corpus.objects.filter(project=project).update(name=HOSTILE, source_filename=PAYLOADS[2] + ".csv")
    Run.objects.filter(project=project).update(name=HOSTILE, params={PAYLOADS[0]: PAYLOADS[1]})
    Prediction.objects.filter(run__project=project).update(raw_output=HOSTILE, valid=False)
    Job.objects.filter(project=project).update(
        state=Job.State.FAILED, error=HOSTILE, message=PAYLOADS[2], params={PAYLOADS[0]: HOSTILE}, result={"x": HOSTILE}
    )
    Correction.objects.filter(project=project).update(after_names=[[HOSTILE]], before_names=[[HOSTILE]])
    get_user_model().objects.filter(pk=world.membership.user_id).update(username=PAYLOADS[3][:150])
    LLMEndpoint.objects.filter(project=project).update(model=HOSTILE[:200], templates={"dl": HOSTILE})
    project.refresh_from_db()
    return world
