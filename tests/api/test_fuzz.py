"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis, through WSGI).

As the owner of a small project, every operation is called with generated inputs; no call may answer 500, and
every response must match the schema (status code, content type, body). Ids in paths are mostly mapped onto
real objects of the project, so the calls reach the services instead of stopping at 404.

Bounded for CI (12 examples per operation, derandomized so the gate is stable); for a deeper local search:
`HTC_FUZZ_EXAMPLES=200 HTC_FUZZ_RANDOM=1 pytest tests/api/test_fuzz.py`.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def wsgi_app():
    """The project's WSGI app, with the per-request connection closing off (as Django's test client does),
    so the requests run inside the test's transaction."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from htc_app.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield application
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    """The schema /api/schema/ serves, generated in-process (collection time needs no database)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    raw = SchemaGenerator().get_schema(request=None, public=True)
    return schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))


@pytest.fixture
def owner_headers(world):
    from api.services import token_create

    _, key = token_create(user=world["users"]["owner"], name="fuzz")
    return {"Authorization": f"Bearer {key}"}


def _real_ids(world) -> dict[str, list[int]]:
    from api.models import ApiToken
    from classifiers.models import Prediction
    from corpora.models import Corpus, Document
    from jobs.models import Job
    from projects.models import Membership
    from review.models import Correction, ReviewTask
    from taxonomies.models import Node

    project = world["project"]
    return {
        "node_id": list(Node.objects.filter(taxonomy__project=project).values_list("pk", flat=True)),
        "membership_id": list(Membership.objects.filter(project=project).values_list("pk", flat=True)),
        "corpus_id": list(Corpus.objects.filter(project=project).values_list("pk", flat=True)),
        "document_id": list(Document.objects.filter(project=project).values_list("pk", flat=True)),
        "run_id": [world["run"].pk],
        "prediction_id": list(Prediction.objects.filter(run__project=project).values_list("pk", flat=True)),
        "correction_id": list(Correction.objects.filter(project=project).values_list("pk", flat=True)),
        "job_id": list(Job.objects.filter(project=project).values_list("pk", flat=True)),
        "task_id": list(ReviewTask.objects.filter(project=project).values_list("pk", flat=True)),
        "token_id": list(ApiToken.objects.filter(user=world["users"]["owner"]).values_list("pk", flat=True)),
    }


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("HTC_FUZZ_EXAMPLES", "12")),
    derandomize=not os.environ.get("HTC_FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_answers_every_generated_request_without_500_and_as_documented(case, world, owner_headers, wsgi_app):
    params = case.path_parameters or {}
    if "project_id" in params:
        params["project_id"] = world["project"].pk
    if "task_id" in params and not world["nodes"]["Sci > Bio"].children.exists():
        from taxonomies.splitting import node_split

        # A "which child?" task (once per test; examples share the world): Sci > Bio's documents wait.
        node_split(node=world["nodes"]["Sci > Bio"], children=["Cell", "Plant"], actor=world["users"]["owner"])
    real = _real_ids(world)
    for name, value in list(params.items()):
        # Even generated values become a real id of the project; odd ones stay as generated (mostly 404s).
        if name in real and real[name] and isinstance(value, int) and value % 2 == 0:
            params[name] = real[name][value // 2 % len(real[name])]
    case.call_and_validate(app=wsgi_app, headers=owner_headers, checks=CHECKS)
