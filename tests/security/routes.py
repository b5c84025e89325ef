"""The UI route table: for every named route of htc_app.urls, the lowest role that may GET it and POST to it.

Roles, lowest first: "user" (any logged-in account; routes outside a project), "viewer", "annotator", "owner".
`None` means the method is not allowed at all (405 for logged-in users). `data(world)` builds a POST body that
an allowed role's request really acts on, so "a refused POST writes nothing" is checked against a request
that would write. Admin, accounts and api routes are not UI routes: they are excluded here on purpose
(api/ has its own matrix in tests/api).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver

EXCLUDED_PREFIXES = ("admin/", "accounts/", "api/")
ROLE_ORDER = ("user", "viewer", "annotator", "owner")


@dataclass(frozen=True)
class Route:
    name: str
    get: str | None
    post: str | None
    data: Callable = field(default=lambda w: {})
    kwargs: dict = field(default_factory=dict)
    # URL kwargs naming one of the world's objects other than the default (e.g. the weak run for its
    # pseudo-labels); the cross-project checks take the same object of the other world.
    objects: Callable = field(default=lambda w: {})
    get_status: int = 200
    query: Callable = field(default=lambda w: "")
    # An allowed owner's POST writes rows (False: it only redirects, e.g. skip or a read-only form).
    writes: bool = True
    # Object kwargs whose value from another project must give 404 (filled from the pattern by default).


def _upload(name: str, body: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, body, content_type="application/octet-stream")


def _endpoint(w) -> dict:
    return {
        "base_url": "http://127.0.0.1:8081/v1",
        "model": "another-model",
        "price_in_per_1k": "0",
        "price_out_per_1k": "0",
        "concurrency": "2",
        "timeout": "30",
    }


ROUTES: list[Route] = [
    Route("", get="anyone", post="anyone", get_status=302, writes=False),
    Route("projects:list", get="user", post=None),
    Route("projects:create", get="user", post="user", data=lambda w: {"name": "Brand new project"}),
    Route("projects:detail", get="viewer", post=None),
    Route(
        "projects:members",
        get="viewer",
        post="owner",
        data=lambda w: {"username": w.extra["viewer"].username, "role": "annotator"},
    ),
    Route("projects:member_remove", get=None, post="owner"),
    Route("taxonomies:editor", get="viewer", post=None),
    Route("taxonomies:node_add", get=None, post="owner", data=lambda w: {"name": "New label", "parent": ""}),
    Route("taxonomies:node_rename", get=None, post="owner", data=lambda w: {"name": "Biology"}),
    Route("taxonomies:node_move", get=None, post="owner", data=lambda w: {"target": str(w.nodes["Sport"].pk)}),
    Route("taxonomies:node_merge", get=None, post="owner", data=lambda w: {"target": str(w.nodes["Sci > Phys"].pk)}),
    Route("taxonomies:node_delete", get=None, post="owner", data=lambda w: {"target": "", "cascade": "on"}),
    # Sci > Bio has no documents of its own: the split only adds children (the world's Team split left a task).
    Route("taxonomies:node_split", get=None, post="owner", data=lambda w: {"children": "Molecular\nEcology"}),
    Route(
        "taxonomies:node_describe",
        get=None,
        post="owner",
        data=lambda w: {"description": "Life sciences", "terms": "cell, gene"},
    ),
    # Cold start: both start a job (the LLM runs in the worker, never here); owners only, like editing.
    Route("taxonomies:enrich", get=None, post="owner", data=lambda w: {"source": "both", "top_k": "8"}),
    Route("taxonomies:examples", get=None, post="owner", data=lambda w: {"per_leaf": "3"}),
    Route(
        "taxonomies:import",
        get="owner",
        post="owner",
        data=lambda w: {"file": _upload("t.txt", b"Imported\n  Child\n"), "mode": "merge"},
    ),
    Route("taxonomies:export", get="viewer", post=None, kwargs={"fmt": "json"}),
    Route("taxonomies:history", get="viewer", post=None),
    Route(
        "corpora:upload",
        get="annotator",
        post="annotator",
        data=lambda w: {"file": _upload("more.csv", b"id,text\nnew1,a new document\n")},
    ),
    Route("corpora:documents", get="viewer", post=None),
    Route("corpora:export", get="viewer", post=None),
    Route("corpora:document", get="viewer", post=None),
    Route("jobs:list", get="viewer", post=None),
    Route("jobs:detail", get="viewer", post=None),
    Route("jobs:status", get="viewer", post=None),
    # The world's job was started by the owner: an annotator may cancel only jobs they started.
    Route("jobs:cancel", get=None, post="owner"),
    Route(
        "classifiers:runs",
        get="viewer",
        post="annotator",
        data=lambda w: {"strategy": "tfidf", "shots": "0", "seed": "1", "split": "test", "name": "matrix run"},
    ),
    Route("classifiers:metrics", get="viewer", post=None),
    Route("classifiers:run", get="viewer", post=None),
    # The world's run is not trained, so the one job it offers is the whole pipeline.
    Route("classifiers:run_job", get=None, post="annotator", data=lambda w: {"kind": "pipeline", "split": "test"}),
    # The trained run whose Sport > Team was split since: the update starts a job (queued, not trained here).
    Route(
        "classifiers:run_update",
        get=None,
        post="annotator",
        data=lambda w: {"name": "", "rehearsal": "0.3", "epochs": "2"},
        objects=lambda w: {"run_id": w.trained_run.pk},
    ),
    Route("classifiers:predictions", get="viewer", post=None),
    Route("classifiers:pseudo_labels", get="viewer", post=None, objects=lambda w: {"run_id": w.weak_run.pk}),
    Route("review:index", get="viewer", post=None),
    Route("review:queue", get="viewer", post=None),
    Route("review:next", get="viewer", post=None, get_status=302),
    Route("review:retrain", get=None, post="annotator"),
    # Predicts the train split of a trained run (a job), then opens its queue.
    Route("review:train_split", get=None, post="annotator", objects=lambda w: {"run_id": w.trained_run.pk}),
    Route("review:item", get="viewer", post="annotator", data=lambda w: {"action": "accept"}),
    # The world's decision is the owner's: only its author may undo it (others get a message, no change).
    Route("review:undo", get=None, post="annotator"),
    # The "which child?" task of the split: its list, the next open document and the decision page.
    Route("review:task", get="viewer", post=None),
    Route("review:task_next", get="viewer", post=None, get_status=302),
    Route(
        "review:task_item",
        get="viewer",
        post="annotator",
        data=lambda w: {"action": "change", "paths": json.dumps([w.path("Sport > Team > Amateur")])},
    ),
    Route("review:agreement", get="viewer", post=None),
    # An owner adjudicates a document's label (the task's open document).
    Route(
        "review:adjudicate",
        get=None,
        post="owner",
        data=lambda w: {"paths": json.dumps([w.path("Sci > Phys > Astro")])},
    ),
    Route("review:export", get="viewer", post=None, kwargs={"what": "corrections", "fmt": "csv"}),
    Route("endpoints:settings", get="owner", post="owner", data=_endpoint),
    Route("endpoints:reset", get=None, post="owner"),
    # Test connection makes one bounded call (nothing listens on the default local port here) and stores nothing.
    Route("endpoints:test", get=None, post="owner", writes=False),
]
ROUTES_BY_NAME = {r.name: r for r in ROUTES}


@dataclass(frozen=True)
class Pattern:
    name: str
    route: str
    kwargs: tuple[str, ...]


def ui_patterns() -> list[Pattern]:
    """Every URL pattern of the project, flattened, minus the excluded (non-UI) prefixes."""
    found: list[Pattern] = []

    def walk(patterns, prefix: str, namespace: str, kwargs: tuple[str, ...]) -> None:
        for p in patterns:
            route = prefix + str(p.pattern)
            names = kwargs + tuple(getattr(p.pattern, "converters", {}))
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, route, ns, names)
            elif isinstance(p, URLPattern):
                if route.startswith(EXCLUDED_PREFIXES):
                    continue
                found.append(Pattern(f"{namespace}{p.name}" if p.name else route, route, names))

    walk(get_resolver().url_patterns, "", "", ())
    return found


def role_allows(role: str, minimum: str | None) -> bool:
    """Whether `role` ("anon", "outsider", "viewer", ...) meets `minimum` ("anyone", "user", "viewer", ...)."""
    if minimum is None:
        return False
    if minimum == "anyone":
        return True
    if role == "anon":
        return False
    if role == "outsider":
        return minimum == "user"
    return ROLE_ORDER.index(role) >= ROLE_ORDER.index(minimum)
