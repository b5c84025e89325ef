"""Hostile query strings and form values never produce a server error (500) on any UI route.

Every route of the table is called as its owner with query parameters that views read (page, node, run, split,
order, level, format, ...) set to values a careful attacker tries next: letters, negative and huge numbers,
floats, NUL bytes, markup and repeated keys. The answer may be 200, a redirect, 400 or 404, never 500, and a
refused or no-op request writes nothing.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.db import transaction

from tests.security.routes import ROUTES
from tests.security.test_permission_matrix import PATTERNS, url_for
from tests.security.world import snapshot

pytestmark = pytest.mark.django_db

KEYS = [
    "page",
    "node",
    "run",
    "split",
    "order",
    "level",
    "format",
    "state",
    "q",
    "consistent",
    "reviewed",
    "after",
    "before",
]
KEYS += ["corrected", "confusion_run", "level_metric", "shots_metric", "imported", "next"]
VALUES = [
    "abc",
    "\u00b2",
    "\u0661\u0662",
    "-1",
    "0",
    "99999999999999999999999999",
    "1.5",
    "1e400",
    "\x00",
    "<script>x</script>",
    "",
    "NaN",
]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.get not in (None,)], ids=lambda r: r.name or "root")
def test_garbage_query_parameters_never_give_a_server_error(route, worlds, clients):
    alpha, _ = worlds
    url = url_for(route, PATTERNS[route.name], alpha)
    client = clients["owner"]
    client.raise_request_exception = True
    for value in VALUES:
        query = urlencode([(k, value) for k in KEYS] + [("run", value), ("page", value)])
        with transaction.atomic():
            before = snapshot()
            response = client.get(f"{url}?{query}")
            assert snapshot() == before, (url, value)
            transaction.set_rollback(True)
        assert response.status_code in (200, 302, 400, 404), (url, value, response.status_code)


REVIEW_PATHS = ["[[1e400]]", "[[99999999999999999999999999]]", '[["x"]]', "[[null]]", "[[[1]]]", '{"a": 1}']
REVIEW_PATHS += ["[[]]", "[1, 2]", "[[-1]]", "[[true]]", "nan", "[[1.5]]", "x" * 5000]


@pytest.mark.parametrize("paths", REVIEW_PATHS)
def test_malformed_review_paths_are_refused_with_a_message_not_a_crash(paths, worlds, clients):
    from review.models import Correction

    alpha, _ = worlds
    url = url_for(next(r for r in ROUTES if r.name == "review:item"), PATTERNS["review:item"], alpha)
    before = Correction.objects.count()
    response = clients["annotator"].post(url, {"action": "change", "paths": paths})
    assert response.status_code == 200
    assert Correction.objects.count() == before
    assert b"msg-error" in response.content


@pytest.mark.parametrize("paths", REVIEW_PATHS + ["[[true, true, true]]", "[[1e400, 1e400, 1e400]]"])
def test_malformed_paths_in_the_which_child_task_are_refused_with_a_message(paths, worlds, clients):
    """The task's decision page reads the same picker JSON: nothing is recorded, no number is rounded to an id."""
    from review.models import Correction

    alpha, _ = worlds
    url = url_for(next(r for r in ROUTES if r.name == "review:task_item"), PATTERNS["review:task_item"], alpha)
    before = Correction.objects.count()
    response = clients["annotator"].post(url, {"action": "change", "paths": paths})
    assert response.status_code == 200
    assert Correction.objects.count() == before
    assert b"msg-error" in response.content


def test_a_task_path_of_floats_is_not_read_as_the_ids_they_round_to(worlds, clients):
    from review.models import Correction

    alpha, _ = worlds
    url = url_for(next(r for r in ROUTES if r.name == "review:task_item"), PATTERNS["review:task_item"], alpha)
    path = [i + 0.25 for i in alpha.path("Sport > Team > Amateur")]
    response = clients["annotator"].post(url, {"action": "change", "paths": f"[{path}]"})
    assert response.status_code == 200 and b"msg-error" in response.content
    assert not Correction.objects.filter(document=alpha.task_document).exists()


FORM_KEYS = ["name", "parent", "target", "cascade", "description", "terms", "mode", "username", "role", "kind"]
FORM_KEYS += ["split", "strategy", "shots", "seed", "corrector", "params", "action", "paths", "settles", "next"]
FORM_KEYS += ["base_url", "model", "api_key", "concurrency", "timeout", "price_in_per_1k", "template_dl"]
FORM_KEYS += ["children", "source", "top_k", "replace_edited", "per_leaf", "node", "rehearsal", "epochs"]


@pytest.mark.parametrize("route", [r for r in ROUTES if r.post not in (None, "anyone")], ids=lambda r: r.name)
def test_garbage_form_values_never_give_a_server_error(route, worlds, clients):
    alpha, _ = worlds
    url = url_for(route, PATTERNS[route.name], alpha)
    client = clients["owner"]
    for value in VALUES + ["#99999999999999999999999", "A > > B", " > ", "#\u00b2"]:
        data = {**route.data(alpha), **dict.fromkeys(FORM_KEYS, value)}
        with transaction.atomic():
            response = client.post(url, data)
            transaction.set_rollback(True)
        assert response.status_code in (200, 302, 400, 404, 413), (url, value, response.status_code)


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/", "/\\evil.example/", "\\\\evil.example", "/\t/evil.example/"]
    + ["javascript:alert(1)", "http:evil.example", "/%5Cevil.example", " //evil.example"],
)
@pytest.mark.parametrize("name", ["jobs:cancel", "review:undo"])
def test_next_parameters_never_redirect_off_site(name, target, worlds, clients):
    """A `next` pointing at another host (in every spelling browsers accept) falls back to the local page."""
    from urllib.parse import urlsplit

    alpha, _ = worlds
    route = next(r for r in ROUTES if r.name == name)
    url = url_for(route, PATTERNS[name], alpha)
    with transaction.atomic():
        response = clients["owner"].post(url, {"next": target})
        transaction.set_rollback(True)
    assert response.status_code == 302
    location = response["Location"]
    normalised = location.replace("\\", "/").replace("\t", "").strip()
    assert normalised.startswith("/") and not normalised.startswith("//"), location
    assert not urlsplit(normalised).netloc and not urlsplit(normalised).scheme, location
    # A local next is still honoured.
    with transaction.atomic():
        local = clients["owner"].post(url, {"next": f"/projects/{alpha.project.pk}/"})
        transaction.set_rollback(True)
    assert local["Location"] == f"/projects/{alpha.project.pk}/"
