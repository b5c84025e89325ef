"""Every API route x every role: the status code, and no side effect at all when the request is refused.

Roles are those of the pages: viewer reads; annotator uploads, starts runs, reviews, cancels own jobs; owner
edits the taxonomy and members. Anonymous callers get 401, members of another project 404 (no existence leak).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "stranger", "viewer", "annotator", "owner")
RANK = {"viewer": 1, "annotator": 2, "owner": 3}


@dataclass
class Route:
    method: str
    path: str  # formatted with ids from `ids(world, user)`
    role: str | None  # minimum project role; None: any authenticated user (not project-scoped)
    ok: int
    body: Callable | None = None  # body(world, user) -> dict
    multipart: bool = False
    prep: Callable | None = None  # prep(world, user) -> extra ids, run before the "before" snapshot
    extra: dict = field(default_factory=dict)


def _own_job(w, user):
    from jobs.models import Job

    creator = user if user is not None and user != w["users"]["stranger"] else w["users"]["owner"]
    return {"own_job": Job.objects.create(project=w["project"], kind="noop", created_by=creator).pk}


def _own_correction(w, user):
    from review.services import correction_record

    annotator = user if user is not None and user != w["users"]["stranger"] else w["users"]["owner"]
    c = correction_record(
        project=w["project"], document=w["docs"][1], annotator=annotator, action="accept", prediction=w["preds"][1]
    )
    return {"own_correction": c.pk}


def _own_token(w, user):
    from api.services import token_create

    token, _ = token_create(user=user or w["users"]["owner"], name="spare")
    return {"own_token": token.pk}


def _csv(w, user):
    return {"file": SimpleUploadedFile("new.csv", b"id,text,path\nn1,some text,Sci > Bio\n", "text/csv")}


def _taxonomy_csv(w, user):
    return {"file": SimpleUploadedFile("tax.csv", b"path\nSci > Chem\n", "text/csv"), "mode": "merge"}


def _split_task(w, user):
    """Sci > Bio split into Cell and Plant: its two documents wait in a "which child?" task."""
    from taxonomies.splitting import node_split

    bio = w["nodes"]["Sci > Bio"]
    result = node_split(node=bio, children=["Cell", "Plant"], actor=w["users"]["owner"])
    cell = next(c for c in result["children"] if c.name == "Cell")
    w["task_path"] = [w["nodes"]["Sci"].pk, bio.pk, cell.pk]
    return {"task": result["task"].pk}


def outdated_run(w) -> dict:
    """A trained tfidf run whose taxonomy lacks Sci > Bio > Cell, a new label train document d1 now carries."""
    import json
    from pathlib import Path

    from django.conf import settings

    from classifiers.adapters import hierarchy_for_taxonomy
    from classifiers.models import Run
    from corpora.models import GoldLabel
    from taxonomies.services import node_create

    project = w["project"]
    model_dir = Path(settings.HTC_MODEL_DIR) / f"matrix-{project.pk}"
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text(
        json.dumps({"hierarchy": hierarchy_for_taxonomy(project.taxonomy).to_dict()})
    )
    run = Run.objects.create(
        project=project,
        name="parent",
        strategy="tfidf",
        state=Run.State.TRAINED,
        model_dir=str(model_dir),
        taxonomy_version=project.taxonomy.version,
        train_document_ids=[d.pk for d in w["docs"][:4]],
        seed=1,
        created_by=w["users"]["owner"],
    )
    cell = node_create(taxonomy=project.taxonomy, name="Cell", parent=w["nodes"]["Sci > Bio"])
    GoldLabel.objects.filter(document=w["docs"][1]).update(node=cell)
    return {"outdated_run": run.pk, "cell": cell.pk}


P = "/api/v1/projects/{p}/"
ROUTES = [
    Route("GET", "/api/v1/projects/", None, 200),
    Route("POST", "/api/v1/projects/", None, 201, body=lambda w, u: {"name": f"new-{u.pk if u else 0}"}),
    Route("GET", "/api/v1/tokens/", None, 200),
    Route("POST", "/api/v1/tokens/", None, 201, body=lambda w, u: {"name": "x"}),
    Route("GET", "/api/v1/tokens/{own_token}/", None, 200, prep=_own_token),
    Route("DELETE", "/api/v1/tokens/{own_token}/", None, 204, prep=_own_token),
    Route("GET", P, "viewer", 200),
    Route("GET", P + "members/", "viewer", 200),
    Route("POST", P + "members/", "owner", 200, body=lambda w, u: {"username": "extra", "role": "annotator"}),
    Route("GET", P + "members/{member}/", "viewer", 200),
    Route("DELETE", P + "members/{member}/", "owner", 204),
    Route("GET", P + "taxonomy/", "viewer", 200),
    Route("GET", P + "taxonomy/nodes/", "viewer", 200),
    Route(
        "POST", P + "taxonomy/nodes/", "owner", 201, body=lambda w, u: {"name": "Chem", "parent": w["nodes"]["Sci"].pk}
    ),
    Route("GET", P + "taxonomy/nodes/{node}/", "viewer", 200),
    Route("PATCH", P + "taxonomy/nodes/{node}/", "owner", 200, body=lambda w, u: {"name": "Science"}),
    Route("DELETE", P + "taxonomy/nodes/{unused_leaf}/", "owner", 200),
    Route("POST", P + "taxonomy/nodes/{unused_leaf}/move/", "owner", 200, body=lambda w, u: {"parent": None}),
    Route(
        "POST",
        P + "taxonomy/nodes/{unused_leaf}/merge/",
        "owner",
        200,
        body=lambda w, u: {"target": w["nodes"]["Sci > Bio"].pk},
    ),
    Route("GET", P + "taxonomy/nodes/{node}/terms/", "viewer", 200),
    Route("PUT", P + "taxonomy/nodes/{node}/terms/", "owner", 200, body=lambda w, u: {"terms": ["physics", "life"]}),
    Route("POST", P + "taxonomy/nodes/{unused_leaf}/split/", "owner", 201, body=lambda w, u: {"children": ["A", "B"]}),
    Route("POST", P + "taxonomy/enrich/", "owner", 202, body=lambda w, u: {"source": "corpus", "top_k": 5}),
    Route("POST", P + "taxonomy/examples/", "owner", 202, body=lambda w, u: {"per_leaf": 2}),
    Route("POST", P + "taxonomy/import/", "owner", 200, body=_taxonomy_csv, multipart=True),
    Route("GET", P + "taxonomy/export/?format=csv", "viewer", 200),
    Route("GET", P + "taxonomy/changes/", "viewer", 200),
    Route("GET", P + "corpora/", "viewer", 200),
    Route("POST", P + "corpora/", "annotator", 201, body=_csv, multipart=True),
    Route("GET", P + "corpora/{corpus}/", "viewer", 200),
    Route("GET", P + "documents/", "viewer", 200),
    Route("GET", P + "documents/{doc}/", "viewer", 200),
    Route("GET", P + "runs/", "viewer", 200),
    Route("POST", P + "runs/", "annotator", 202, body=lambda w, u: {"strategy": "tfidf", "name": "api-run"}),
    Route("GET", P + "runs/{run}/", "viewer", 200),
    Route("POST", P + "runs/{run}/jobs/", "annotator", 202, body=lambda w, u: {"kind": "predict", "split": "test"}),
    Route("POST", P + "runs/{run}/retrain/", "annotator", 202),
    Route("GET", P + "runs/{run}/pseudo-labels/", "viewer", 200),
    Route(
        "POST",
        P + "runs/{outdated_run}/update/",
        "annotator",
        202,
        body=lambda w, u: {"rehearsal": 0.5},
        prep=lambda w, u: outdated_run(w),
    ),
    Route("GET", P + "runs/{run}/predictions/", "viewer", 200),
    Route("GET", P + "runs/{run}/predictions/{pred}/", "viewer", 200),
    Route("GET", P + "corrections/", "viewer", 200),
    Route(
        "POST",
        P + "corrections/",
        "annotator",
        201,
        body=lambda w, u: {"prediction": w["preds"][2].pk, "action": "accept"},
    ),
    Route("GET", P + "corrections/{correction}/", "viewer", 200),
    Route("POST", P + "corrections/{own_correction}/undo/", "annotator", 201, prep=_own_correction),
    Route("GET", P + "review-tasks/", "viewer", 200, prep=_split_task),
    Route("GET", P + "review-tasks/{task}/", "viewer", 200, prep=_split_task),
    Route(
        "POST",
        P + "review-tasks/{task}/decide/",
        "annotator",
        201,
        body=lambda w, u: {"document": w["docs"][1].pk, "path": w["task_path"]},
        prep=_split_task,
    ),
    Route("GET", P + "jobs/", "viewer", 200),
    Route("GET", P + "jobs/{job}/", "viewer", 200),
    Route("POST", P + "jobs/{own_job}/cancel/", "annotator", 200, prep=_own_job),
]


def expected_status(route: Route, role: str) -> int:
    if role == "anonymous":
        return 401
    if route.role is None:
        return route.ok
    if role == "stranger":
        return 404
    return route.ok if RANK[role] >= RANK[route.role] else 403


def snapshot() -> dict:
    """Everything a refused request must leave exactly as it was."""
    from api.models import ApiToken
    from classifiers.models import Prediction, PseudoLabel, Run
    from corpora.models import Corpus, Document, GoldLabel
    from jobs.models import Job
    from projects.models import Membership, Project
    from review.models import Correction, ReviewTask
    from taxonomies.models import Node, Taxonomy, TaxonomyChange

    return {
        "projects": list(Project.objects.values_list("id", "name").order_by("id")),
        "members": list(Membership.objects.values_list("id", "role").order_by("id")),
        "taxonomies": list(Taxonomy.objects.values_list("id", "version").order_by("id")),
        "nodes": list(
            Node.objects.values_list(
                "id", "name", "parent_id", "description", "path_key", "terms", "terms_source"
            ).order_by("id")
        ),
        "changes": TaxonomyChange.objects.count(),
        "corpora": Corpus.objects.count(),
        "documents": list(Document.objects.values_list("id", "generated").order_by("id")),
        "gold": list(GoldLabel.objects.values_list("document_id", "node_id").order_by("id")),
        "runs": list(Run.objects.values_list("id", "name", "state", "parent_run_id").order_by("id")),
        "predictions": Prediction.objects.count(),
        "pseudo_labels": PseudoLabel.objects.count(),
        "review_tasks": list(ReviewTask.objects.values_list("id", "document_ids").order_by("id")),
        "corrections": list(Correction.objects.values_list("id", "superseded_by_id").order_by("id")),
        "jobs": list(Job.objects.values_list("id", "state", "cancel_requested").order_by("id")),
        "tokens": list(ApiToken.objects.values_list("id", "revoked_at").order_by("id")),
    }


def ids(w) -> dict:
    from projects.models import Membership

    return {
        "p": w["project"].pk,
        "member": Membership.objects.get(project=w["project"], user=w["users"]["extra"]).pk,
        "node": w["nodes"]["Sci"].pk,
        "unused_leaf": _unused_leaf(w),
        "corpus": w["corpus"].pk,
        "doc": w["docs"][0].pk,
        "run": w["run"].pk,
        "pred": w["preds"][0].pk,
        "correction": w["correction"].pk,
        "job": w["job"].pk,
    }


def _unused_leaf(w) -> int:
    """A leaf no document uses (so delete/move/merge need no reassignment)."""
    from taxonomies.services import node_create

    return node_create(taxonomy=w["project"].taxonomy, name="Unused", parent=w["nodes"]["Sport"]).pk


@pytest.fixture
def world(module_world, db):
    """The `world` of tests/api/conftest.py, a deep copy per test (as setUpTestData's attributes)."""
    return copy.deepcopy(module_world)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_status_for_role_and_no_side_effect_when_refused(world, token_client, route: Route, role: str):
    user = None if role == "anonymous" else world["users"][role]
    client = token_client(user)
    values = ids(world)
    if route.prep:
        values.update(route.prep(world, user))
    url = route.path.format(**values)
    body = route.body(world, user) if route.body else None
    before = snapshot()
    send = getattr(client, route.method.lower())
    if body is None:
        response = send(url)
    else:
        response = send(url, body, format="multipart" if route.multipart else "json")
    expected = expected_status(route, role)
    assert response.status_code == expected, (role, url, response.content[:500])
    if expected >= 400:
        assert response["Content-Type"].startswith("application/json")
        data = response.json()
        assert set(data) == {"detail", "errors"}
        assert snapshot() == before, "a refused request changed data"
        if expected in (401, 404):
            # No data of the project leaks in the refusal.
            assert world["project"].name not in response.content.decode()


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_schema_and_docs_are_public(client, path):
    response = client.get(path)
    assert response.status_code == 200


def test_matrix_covers_every_operation_of_the_schema():
    import re

    from drf_spectacular.generators import SchemaGenerator

    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = {
        (method.upper(), shape(path))
        for path, ops in schema["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "patch", "delete")
    }
    covered = {(r.method, shape(r.path)) for r in ROUTES}
    assert operations == covered


@pytest.mark.parametrize(
    ("method", "role"), [("GET", "viewer"), ("HEAD", "viewer"), ("POST", "owner"), ("PUT", "owner")]
)
def test_a_method_a_view_does_not_list_needs_viewer_to_read_and_owner_to_write(method, role):
    from rest_framework.test import APIRequestFactory

    from api.views.base import ProjectScopedView

    view = ProjectScopedView()
    view.request = getattr(APIRequestFactory(), method.lower())("/")
    assert view.required_role() == role
