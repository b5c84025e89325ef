"""Review queue, review page (keyboard-driven tree picker), undo, agreement and conflicts, exports."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifiers.models import Prediction, Run
from classifiers.staleness import prediction_staleness
from corpora.models import Split
from htc_app.params import id_param, local_next, page_param
from projects.models import Role
from projects.selectors import project_for_user
from review import exports
from review.agreement import agreement_for_project
from review.models import Correction
from review.selectors import QueueCursor, review_queue_count, review_queue_page
from review.services import (
    conflicts_for_project,
    correction_record,
    correction_undo,
    current_decision,
    run_retrain_with_corrections,
)
from review.tasks import review_tasks_for_project
from taxonomies.models import Node
from taxonomies.selectors import node_replacements, taxonomy_tree

FILTER_KEYS = ("split", "order", "node", "reviewed", "corrected")
QUEUE_PAGE_SIZE = 50


def _filters(request: HttpRequest) -> dict:
    return {k: request.GET.get(k, "") for k in FILTER_KEYS if request.GET.get(k, "")}


def _queue_args(run: Run, project, filters: dict) -> dict:
    node = None
    if id_param(filters.get("node")):
        node = Node.objects.filter(taxonomy=project.taxonomy, pk=id_param(filters["node"])).first()
    return {
        "split": filters.get("split") if filters.get("split") in Split.values else None,
        "node": node,
        "reviewed": {"yes": True, "no": False}.get(filters.get("reviewed", "")),
        "corrected_only": filters.get("corrected") == "1",
    }


def _queue_order(filters: dict) -> str:
    return filters.get("order") if filters.get("order") in ("uncertainty", "document") else "uncertainty"


def _path_text(tree, path: list[int]) -> str:
    return " > ".join(tree.nodes[i].name if i in tree.nodes else f"#{i}" for i in path)


@login_required
@require_GET
def review_index(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    runs = Run.objects.filter(project=project).annotate(n_predictions=Count("predictions")).order_by("-created_at")
    reviewed = dict(
        Correction.objects.filter(project=project, superseded_by__isnull=True)
        .values_list("run_id")
        .annotate(n=Count("document_id", distinct=True))
    )
    rows = [(run, reviewed.get(run.pk, 0)) for run in runs]
    return render(
        request,
        "review/index.html",
        {
            "project": project,
            "rows": rows,
            "conflicts": len(conflicts_for_project(project=project)),
            "tasks": review_tasks_for_project(project=project),
        },
    )


@login_required
@require_GET
def review_queue_view(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    filters = _filters(request)
    args = _queue_args(run, project, filters)
    cursor = QueueCursor.decode(request.GET.get("after"))
    page = review_queue_page(run=run, cursor=cursor, size=QUEUE_PAGE_SIZE, order=_queue_order(filters), **args)
    number = page_param(request.GET.get("page")) if cursor is not None else 1
    total = review_queue_count(run=run, **args)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    items = [
        {"prediction": p, "path": " | ".join(_path_text(tree, path) for path in p.paths) or "(no valid answer)"}
        for p in page.items
    ]
    node_options = [(nid, tree.path_label(nid)) for nid in tree.preorder()]
    return render(
        request,
        "review/queue.html",
        {
            "project": project,
            "run": run,
            "page": page,
            "page_number": number,
            "first_item": (number - 1) * QUEUE_PAGE_SIZE + 1,
            "last_item": (number - 1) * QUEUE_PAGE_SIZE + len(items),
            "total": total,
            "items": items,
            "filters": filters,
            "query": urlencode(filters),
            "node_options": node_options,
            "splits": [(s.value, s.label) for s in Split],
        },
    )


@login_required
@require_GET
def review_next(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """The first prediction in queue order that this user has not decided or skipped yet."""
    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    filters = _filters(request)
    skipped = request.session.get(f"review-skip-{run.pk}", [])
    decided = Correction.objects.filter(project=project, annotator=request.user, superseded_by__isnull=True).values(
        "document_id"
    )
    found = review_queue_page(
        run=run,
        size=1,
        order=_queue_order(filters),
        exclude_documents=decided,
        exclude_predictions=skipped,
        **_queue_args(run, project, filters),
    ).items
    nxt = found[0] if found else None
    if nxt is None:
        messages.info(request, "Nothing left to review with these filters.")
        return redirect(f"{reverse('review:queue', args=[project.pk, run.pk])}?{urlencode(filters)}")
    return redirect(f"{reverse('review:item', args=[project.pk, run.pk, nxt.pk])}?{urlencode(filters)}")


@login_required
def review_item(request: HttpRequest, project_id: int, run_id: int, prediction_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    prediction = get_object_or_404(Prediction.objects.select_related("document"), run=run, pk=prediction_id)
    filters = _filters(request)
    next_url = f"{reverse('review:next', args=[project.pk, run.pk])}?{urlencode(filters)}"
    if request.method == "POST":
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        action = request.POST.get("action", "")
        if action == "skip":
            key = f"review-skip-{run.pk}"
            request.session[key] = [*request.session.get(key, []), prediction.pk][-1000:]
            return redirect(next_url)
        settles = request.POST.get("settles") == "1"
        if settles:
            project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
        try:
            paths = json.loads(request.POST.get("paths") or "[]")
            correction_record(
                project=project,
                document=prediction.document,
                annotator=request.user,
                action=action,
                after_paths=paths,
                prediction=prediction,
                settles=settles,
            )
        except (ValidationError, json.JSONDecodeError, TypeError, ValueError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            return redirect(next_url)
    return render(request, "review/item.html", _item_context(request, project, run, prediction, filters))


def _item_context(request, project, run, prediction, filters) -> dict:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    levels = []
    for path in prediction.paths:
        scores = (
            prediction.scores[0] if prediction.scores and isinstance(prediction.scores[0], list) else prediction.scores
        )
        levels.append(
            [
                {
                    "level": d + 1,
                    "name": tree.nodes[n].name if n in tree.nodes else f"#{n}",
                    "score": scores[d] if d < len(scores) else None,
                }
                for d, n in enumerate(path)
            ]
        )
    corrected = bool(prediction.raw_paths) and prediction.raw_paths != prediction.paths
    picker_nodes = [
        {"id": nid, "name": tree.nodes[nid].name, "parent": tree.nodes[nid].parent_id, "path": tree.path_label(nid)}
        for nid in tree.preorder()
    ]
    mine = current_decision(document=prediction.document, annotator=request.user)
    stale = None
    if prediction.consistent:
        stale = prediction_staleness(prediction.paths, tree, node_replacements(taxonomy=project.taxonomy))
    initial = prediction.paths if prediction.valid else []
    if stale is not None:
        initial = stale.current_paths or []  # the picker starts from what the labels are now
    return {
        "project": project,
        "run": run,
        "prediction": prediction,
        "document": prediction.document,
        "levels": levels,
        "corrected": corrected,
        "raw_text": " | ".join(_path_text(tree, p) for p in prediction.raw_paths) if corrected else "",
        "final_text": " | ".join(_path_text(tree, p) for p in prediction.paths),
        "history": Correction.objects.filter(document=prediction.document).select_related("annotator")[:50],
        "mine": mine,
        "picker": {
            "nodes": picker_nodes,
            "initial": initial,
            "multiPath": project.multi_path,
            "allowInternal": project.allow_internal_labels,
        },
        "stale": stale,
        "stale_text": " | ".join(_path_text(tree, p) for p in stale.current_paths)
        if stale and stale.current_paths
        else "",
        "query": urlencode(filters),
        "can_review": project.current_membership.has_role(Role.ANNOTATOR),
        "is_owner": project.current_membership.has_role(Role.OWNER),
    }


@login_required
@require_POST
def review_retrain(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    run = get_object_or_404(Run, project=project, pk=run_id)
    try:
        new_run, job = run_retrain_with_corrections(run=run, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("review:queue", project_id=project.pk, run_id=run.pk)
    messages.success(request, f"Started {new_run.name}: training with the corrected documents.")
    return redirect("jobs:detail", project_id=project.pk, job_id=job.pk)


@login_required
@require_POST
def review_undo(request: HttpRequest, project_id: int, correction_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    correction = get_object_or_404(Correction, project=project, pk=correction_id)
    try:
        correction_undo(correction=correction, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Decision undone.")
    back = local_next(request, request.POST.get("next"))
    if back:
        return HttpResponseRedirect(back)
    return redirect("review:index", project_id=project.pk)


@login_required
@require_GET
def agreement_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    conflicts = [
        {
            "document": c["document"],
            "decisions": [(d, " | ".join(_path_text(tree, p) for p in d.after_paths)) for d in c["decisions"]],
            "prediction": Prediction.objects.filter(document=c["document"]).order_by("-id").first(),
        }
        for c in conflicts_for_project(project=project)
    ]
    return render(
        request,
        "review/agreement.html",
        {"project": project, "pairs": agreement_for_project(project=project), "conflicts": conflicts},
    )


@login_required
@require_GET
def review_export(request: HttpRequest, project_id: int, what: str, fmt: str) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    if what not in ("predictions", "corrections") or fmt not in ("csv", "jsonl"):
        return HttpResponse("Unknown export.", status=404, content_type="text/plain")
    run = None
    if what == "predictions":
        run = get_object_or_404(Run, project=project, pk=id_param(request.GET.get("run"), 0))
    rows = exports.export_rows(project=project, what=what, run=run)
    body = exports.as_csv(rows) if fmt == "csv" else exports.as_jsonl(rows)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    name = f"{what}-{run.pk}" if run else what
    response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-{name}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
