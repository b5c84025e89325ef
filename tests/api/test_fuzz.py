"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis, through WSGI).

As the owner of a small project, every operation is called with generated inputs; no call may answer 500, and
every response must match the schema (status code, content type, body). Ids in paths are mostly mapped onto
real objects of the project, so the calls reach the services instead of stopping at 404.

Bounded for CI (12 examples per operation, derandomized so the gate is stable); for a deeper local search:
`HTC_FUZZ_EXAMPLES=200 HTC_FUZZ_RANDOM=1 pytest tests/api/test_fuzz.py`.
"""

from __future__ import annotations

import copy
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


@pytest.fixture
def world(module_world, db):
    """The `world` of tests/api/conftest.py, built once for this module; a deep copy per test (as
    setUpTestData's attributes)."""
    return copy.deepcopy(module_world)


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


def _real_ids(world, name: str) -> list[int] | None:
    """The ids of the project's objects a path parameter `name` can name (None: not an object id). Queried
    only for the parameters a generated case has, not all eleven lists for every example (a third of the time)."""
    from api.models import ApiToken
    from classifiers.models import Prediction
    from corpora.models import Corpus, Document
    from jobs.models import Job
    from projects.models import Membership
    from review.models import Correction, ReviewTask
    from taxonomies.models import Node

    project = world["project"]
    queries = {
        "node_id": lambda: Node.objects.filter(taxonomy__project=project),
        "membership_id": lambda: Membership.objects.filter(project=project),
        "corpus_id": lambda: Corpus.objects.filter(project=project),
        "document_id": lambda: Document.objects.filter(project=project),
        "prediction_id": lambda: Prediction.objects.filter(run__project=project),
        "correction_id": lambda: Correction.objects.filter(project=project),
        "job_id": lambda: Job.objects.filter(project=project),
        "task_id": lambda: ReviewTask.objects.filter(project=project),
        "token_id": lambda: ApiToken.objects.filter(user=world["users"]["owner"]),
    }
    if name == "run_id":
        return [world["run"].pk]
    if name not in queries:
        return None
    return list(queries[name]().values_list("pk", flat=True))


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
    for name, value in list(params.items()):
        # Even generated values become a real id of the project; odd ones stay as generated (mostly 404s).
        if isinstance(value, int) and value % 2 == 0 and (real := _real_ids(world, name)):
            params[name] = real[value // 2 % len(real)]
    case.call_and_validate(app=wsgi_app, headers=owner_headers, checks=CHECKS)
