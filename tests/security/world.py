"""A small but complete project for the security tests: every kind of object a UI route can name.

`build_world(name=..., owner=...)` returns a `World` whose ids fill every URL kwarg of htc_app.urls, so the
permission matrix and the CSRF test can call each route of one project with the objects of another. Besides
the basics it holds what the cold-start and growth pages show: mined terms, an LLM-written example, a weak
run with pseudo-labels, a cascade run, a trained run whose label was split since (so it can be updated), the
"which child?" task the split left and the run updated for the new labels.
"""

from __future__ import annotations

import json
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
    task: object = None
    task_document: object = None
    trained_run: object = None
    weak_run: object = None
    cascade_run: object = None
    updated_run: object = None
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
            "task_id": self.task.pk,
            "document_id": self.task_document.pk,
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
    _add_cold_start(world)
    _add_growth(world)
    return world


def _add_cold_start(world: World) -> None:
    """Mined terms on Sci > Bio, a finished enrichment job, an LLM-written example (a `generated` document),
    a weak run with pseudo-labels and a trained two-stage cascade (figures as the trainer stores them)."""
    from classifiers.models import Prediction, PseudoLabel, Run
    from corpora.labels import GENERATED_CORPUS
    from corpora.models import Corpus, Document, GoldLabel
    from jobs.models import Job
    from taxonomies.terms import taxonomy_enrich_terms

    project, owner = world.project, world.owner
    bio = world.nodes["Sci > Bio"]
    taxonomy_enrich_terms(taxonomy=project.taxonomy, terms={bio.pk: ["cell", "gene"]}, source="mined", actor=owner)
    Job.objects.create(
        project=project,
        kind="taxonomy_enrich",
        params={"top_k": 8, "corpus": True, "llm": True},
        state=Job.State.SUCCEEDED,
        result={"documents": 4, "llm_errors": {"Sci > Bio": "not a JSON list"}},
        created_by=owner,
        target_type="taxonomy",
        target_id=project.pk,
    )
    corpus = Corpus.objects.create(project=project, name=GENERATED_CORPUS, stats={"generated": True}, created_by=owner)
    example = Document.objects.create(
        project=project,
        corpus=corpus,
        external_id="generated-1",
        text="A star seen through a telescope.",
        split="train",
        generated=True,
        meta={"generated_by": "m", "path": "Sci > Phys > Astro"},
    )
    GoldLabel.objects.create(document=example, node=world.nodes["Sci > Phys > Astro"], source="generated")
    docs = list(Document.objects.filter(project=project, generated=False).order_by("pk"))
    world.weak_run = Run.objects.create(
        project=project,
        name=f"{project.name} weak",
        strategy="weak",
        params={"base": "tfidf", "scorer": "zeroshot", "threshold": 0.5},
        state=Run.State.TRAINED,
        train_document_ids=[d.pk for d in docs[:2]] + [example.pk],
        stats={
            "pseudo_labels": {
                "count": 2,
                "threshold": 0.5,
                "scorer": "zeroshot",
                "base": "tfidf",
                "below_threshold": 0,
                "generated_examples": 1,
                "nodes_with_mined_terms": 1,
            }
        },
        created_by=owner,
    )
    for doc, key, confidence in [(docs[0], "Sci > Phys > Astro", 0.8), (docs[1], "Sport > Team", 0.6)]:
        PseudoLabel.objects.create(run=world.weak_run, document=doc, path=world.path(key), confidence=confidence)
    dev = {"confidence": [0.9, 0.4, 0.7], "correct": [True, False, True], "calls_per_doc": 0.0, "tokens_per_doc": 0.0}
    stages = [
        {
            "name": "1:tfidf",
            "threshold": 0.5,
            "temperatures": [1.2, 0.9],
            "ece_before": 0.2,
            "ece_after": 0.1,
            "dev": dev,
        },
        {
            "name": "2:embed",
            "threshold": 0.3,
            "temperatures": [1.0, 1.1],
            "ece_before": 0.1,
            "ece_after": 0.05,
            "dev": dev,
        },
    ]
    counts = {"routed": 1, "decided": 1, "review": 0, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    world.cascade_run = Run.objects.create(
        project=project,
        name=f"{project.name} cascade",
        strategy="cascade",
        params={"stages": [{"strategy": "tfidf", "threshold": 0.5}, {"strategy": "embed", "threshold": 0.3}]},
        state=Run.State.TRAINED,
        stats={"cascade": {"stages": stages, "review": True, "predict": {"stages": [counts, counts], "review": 0}}},
        created_by=owner,
    )
    Prediction.objects.create(
        run=world.cascade_run,
        document=world.document,
        paths=[world.path("Sci > Bio > Gen")],
        scores=[0.9, 0.8, 0.7],
        margin=0.2,
        stage="1:tfidf",
        leaf_node=world.nodes["Sci > Bio > Gen"].pk,
    )


def _add_growth(world: World) -> None:
    """A trained tfidf run (its model folder holds the hierarchy it was fitted on, nothing is trained), then
    Sport > Team split into Pro and Amateur: the task holds both documents on Team, one is decided (moved to
    Pro) and one still open; and the run updated for the new labels, with its forgetting report."""
    from django.conf import settings

    from classifiers.adapters import hierarchy_for_taxonomy
    from classifiers.growth import run_update_create
    from classifiers.models import Run
    from corpora.models import Document, GoldLabel
    from review.tasks import split_task_decide
    from taxonomies.splitting import node_split

    project, owner, team = world.project, world.owner, world.nodes["Sport > Team"]
    name = project.name
    extra = Document.objects.create(
        project=project, corpus=world.corpus, external_id="d3", text=f"{name} document 3", split="train"
    )
    GoldLabel.objects.create(document=extra, node=team)
    project.taxonomy.refresh_from_db()
    trained = Run.objects.create(
        project=project,
        name=f"{name} tfidf",
        strategy="tfidf",
        state=Run.State.TRAINED,
        taxonomy_version=project.taxonomy.version,
        train_document_ids=sorted(Document.objects.filter(project=project, split="train").values_list("pk", flat=True)),
        created_by=owner,
    )
    model_dir = settings.HTC_MODEL_DIR / f"run-{trained.pk}"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text(
        json.dumps({"hierarchy": hierarchy_for_taxonomy(project.taxonomy).to_dict()})
    )
    Run.objects.filter(pk=trained.pk).update(model_dir=str(model_dir))
    trained.model_dir = str(model_dir)
    world.trained_run = trained

    result = node_split(node=team, children=["Pro", "Amateur"], actor=owner)
    for child in result["children"]:
        world.nodes[f"Sport > Team > {child.name}"] = child
    world.task = result["task"]
    split_task_decide(task=world.task, document=extra, annotator=owner, path=world.path("Sport > Team > Pro"))
    world.task_document = Document.objects.get(project=project, external_id="d1")

    updated = run_update_create(parent=Run.objects.get(pk=trained.pk), actor=owner)  # the taxonomy as it is now
    growth = dict(updated.stats["growth"])
    growth["forgetting"] = {
        "split": "test",
        "old_labels": {"documents": 1, "before": 1.0, "after": 0.5, "drop": 0.5, "unchanged_predictions": 0},
        "new_labels": {"documents": 1, "before": 0.0, "after": 1.0},
    }
    Run.objects.filter(pk=updated.pk).update(state=Run.State.TRAINED, stats={**updated.stats, "growth": growth})
    updated.refresh_from_db()
    world.updated_run = updated
    project.taxonomy.refresh_from_db()


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
    """Put hostile text in every field of `world` that people see: project, labels (the split's children
    too), label terms and their source, documents (the LLM-written example and its author too), corpus and file
    names, run names, params and stats (pseudo-label scorer, cascade stage names), LLM raw output, job error,
    message, params and result, decisions, a username, the endpoint's model name and prompt template."""
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
    for i, run in enumerate(Run.objects.filter(project=project).order_by("pk")):
        stats, params = dict(run.stats), {PAYLOADS[0]: PAYLOADS[1]}
        if run.params.get("stages"):  # a cascade keeps its stages (the trade-off links rebuild them), made hostile
            params["stages"] = [{**stage, "params": {PAYLOADS[2]: PAYLOADS[3]}} for stage in run.params["stages"]]
        if "pseudo_labels" in stats:
            stats["pseudo_labels"] = {**stats["pseudo_labels"], "scorer": PAYLOADS[0], "base": PAYLOADS[1]}
        if "cascade" in stats:
            stages = [{**stage, "name": f"{PAYLOADS[k]}{k}"} for k, stage in enumerate(stats["cascade"]["stages"])]
            stats["cascade"] = {**stats["cascade"], "stages": stages}
        Run.objects.filter(pk=run.pk).update(name=f"{HOSTILE}{i}", params=params, stats=stats)
    # Mined and LLM-suggested terms are text from the corpus and the model; the source lands in an attribute.
    Node.objects.filter(taxonomy__project=project).update(terms=PAYLOADS[:4], terms_source='"><svg onload=1')
    # An LLM-written example: its text, the model named as its author and its path.
    Document.objects.filter(project=project, generated=True).update(meta={"generated_by": HOSTILE, "path": HOSTILE})
    Prediction.objects.filter(run__project=project).update(raw_output=HOSTILE, valid=False)
    Job.objects.filter(project=project).update(
        state=Job.State.FAILED,
        error=HOSTILE,
        message=PAYLOADS[2],
        params={PAYLOADS[0]: HOSTILE},
        result={"x": HOSTILE, "llm_errors": {PAYLOADS[0]: HOSTILE}},
    )
    Correction.objects.filter(project=project).update(after_names=[[HOSTILE]], before_names=[[HOSTILE]])
    get_user_model().objects.filter(pk=world.membership.user_id).update(username=PAYLOADS[3][:150])
    LLMEndpoint.objects.filter(project=project).update(model=HOSTILE[:200], templates={"dl": HOSTILE})
    project.refresh_from_db()
    return world
