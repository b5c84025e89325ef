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
from htc_app.bidi import isolate
from htc_app.params import id_param, local_next, page_param
from projects.models import Role
from projects.selectors import project_for_user
from review import exports
from review.agreement import agreement_for_project
from review.labels import current_label, document_review_version, norm
from review.models import Correction
from review.selectors import QueueCursor, review_queue_count, review_queue_page
from review.services import (
    DecisionConflict,
    conflicts_for_project,
    correction_record,
    correction_undo,
    last_decision,
    run_retrain_with_corrections,
    run_review_training_documents,
)
from review.tasks import review_tasks_for_project
from taxonomies.models import Node
from taxonomies.selectors import node_replacements, taxonomy_tree

FILTER_KEYS = ("split", "order", "node", "reviewed", "corrected", "disagrees")
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
        "disagrees_with_gold": filters.get("disagrees") == "1",
    }


def _queue_order(filters: dict) -> str:
    return filters.get("order") if filters.get("order") in ("uncertainty", "document") else "uncertainty"


def _path_text(tree, path: list[int]) -> str:
    """A path for the page: each name bidi-isolated (htc_app.bidi), a label deleted since shown as #id."""
    return " > ".join(isolate(tree.nodes[i].name) if i in tree.nodes else f"#{i}" for i in path)


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
    test_decisions = (
        Correction.objects.filter(project=project, superseded_by__isnull=True, test_split=True)
        .values("document_id")
        .distinct()
        .count()
    )
    return render(
        request,
        "review/index.html",
        {
            "project": project,
            "rows": rows,
            "conflicts": len(conflicts_for_project(project=project)),
            "test_decisions": test_decisions,
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
    node_options = [(nid, tree.path_shown(nid)) for nid in tree.preorder()]
    from classifiers.selectors import run_jobs

    job = run_jobs(run=run).first()
    return render(
        request,
        "review/queue.html",
        {
            "project": project,
            "run": run,
            "job": job if job is not None and job.is_active else None,
            "can_review": project.current_membership.has_role(Role.ANNOTATOR),
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
    decided = (
        Correction.objects.filter(project=project, annotator=request.user, superseded_by__isnull=True)
        .exclude(action=Correction.Action.UNDO)
        .values("document_id")
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
    conflict = None
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
                seen_version=id_param(request.POST.get("version"), 0) if "version" in request.POST else None,
            )
        except DecisionConflict as exc:
            messages.error(request, " ".join(exc.messages))
            conflict = {"latest": exc.latest, "action": action, "paths": request.POST.get("paths") or "[]"}
        except (ValidationError, json.JSONDecodeError, TypeError, ValueError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            return redirect(next_url)
    context = _item_context(request, project, run, prediction, filters)
    context["conflict"] = conflict
    return render(request, "review/item.html", context, status=409 if conflict else 200)


def _item_context(request, project, run, prediction, filters) -> dict:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    document = prediction.document
    label = current_label(document=document, tree=tree)

    def name(n: int) -> str:
        return tree.nodes[n].name if n in tree.nodes else f"#{n}"

    scores = prediction.scores[0] if prediction.scores and isinstance(prediction.scores[0], list) else prediction.scores
    predicted = prediction.paths[0] if prediction.paths else []
    current = label.paths[0] if label.paths else []
    uploaded = label.uploaded[0] if label.uploaded else []
    depth = max(len(predicted), len(current), len(uploaded))
    # One row per level: the prediction beside the current gold (with its source) and the uploaded gold.
    comparison = [
        {
            "level": d + 1,
            "predicted": name(predicted[d]) if d < len(predicted) else "",
            "score": scores[d] if d < len(scores) else None,
            "current": name(current[d]) if d < len(current) else "",
            "uploaded": name(uploaded[d]) if d < len(uploaded) else "",
            "differs": bool(current) and (predicted[d : d + 1] != current[d : d + 1]),
        }
        for d in range(depth)
    ]
    levels = [
        [{"level": d + 1, "name": name(n), "score": scores[d] if d < len(scores) else None} for d, n in enumerate(path)]
        for path in prediction.paths
    ]
    corrected = bool(prediction.raw_paths) and prediction.raw_paths != prediction.paths
    picker_nodes = [
        {"id": nid, "name": tree.nodes[nid].name, "parent": tree.nodes[nid].parent_id, "path": tree.path_label(nid)}
        for nid in tree.preorder()
    ]
    stale = None
    if prediction.consistent:
        stale = prediction_staleness(prediction.paths, tree, node_replacements(taxonomy=project.taxonomy))
    initial = prediction.paths if prediction.valid else []
    if stale is not None:
        initial = stale.current_paths or []  # the picker starts from what the labels are now
    last = last_decision(project=project, annotator=request.user)
    undo_next = request.get_full_path()
    if last is not None and last.document_id != document.pk:
        # Undo from the next document: go back to the document whose decision is undone.
        back = Prediction.objects.filter(run=run, document_id=last.document_id).values_list("pk", flat=True).first()
        if back is not None:
            undo_next = f"{reverse('review:item', args=[project.pk, run.pk, back])}?{urlencode(filters)}"
    return {
        "project": project,
        "run": run,
        "prediction": prediction,
        "document": document,
        "levels": levels,
        "comparison": comparison,
        "label": label,
        "current_text": " | ".join(_path_text(tree, p) for p in label.paths),
        "uploaded_text": " | ".join(_path_text(tree, p) for p in label.uploaded),
        "disagrees_with_gold": bool(label.paths)
        and bool(prediction.paths)
        and norm(prediction.paths) != norm(label.paths),
        "disagrees_with_uploaded": bool(label.uploaded)
        and bool(prediction.paths)
        and norm(prediction.paths) != norm(label.uploaded),
        "corrected": corrected,
        "raw_text": " | ".join(_path_text(tree, p) for p in prediction.raw_paths) if corrected else "",
        "final_text": " | ".join(_path_text(tree, p) for p in prediction.paths),
        "history": Correction.objects.filter(document=document).select_related("annotator")[:50],
        "mine": last,
        "undo_next": undo_next,
        "version": document_review_version(document=document),
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
    messages.success(request, f"Started {isolate(new_run.name)}: training with the reviewed labels.")
    return redirect("jobs:detail", project_id=project.pk, job_id=job.pk)


@login_required
@require_POST
def review_training_documents(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """ "Review training documents": predict the train split when the run has not (a job, shown with its progress
    on the queue), then open the queue on the train split."""
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    run = get_object_or_404(Run, project=project, pk=run_id)
    try:
        job = run_review_training_documents(run=run, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("classifiers:run", project_id=project.pk, run_id=run.pk)
    if job is not None:
        messages.info(request, "Predicting the train split: the queue fills in as the job runs.")
    return redirect(f"{reverse('review:queue', args=[project.pk, run.pk])}?{urlencode({'split': 'train'})}")


@login_required
@require_POST
def review_undo(request: HttpRequest, project_id: int, correction_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    correction = get_object_or_404(Correction.objects.select_related("document"), project=project, pk=correction_id)
    try:
        correction_undo(correction=correction, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Decision on {isolate(correction.document.external_id)} undone.")
    back = local_next(request, request.POST.get("next"))
    if back:
        return HttpResponseRedirect(back)
    return redirect("review:index", project_id=project.pk)


@login_required
@require_GET
def agreement_view(request: HttpRequest, project_id: int) -> HttpResponse:
    """Agreement figures and the adjudication list: conflicting decisions (annotators disagree, or an annotator
    disagrees with the uploaded gold) with a form for owners to settle each."""
    project = project_for_user(user=request.user, project_id=project_id)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    conflicts = []
    for c in conflicts_for_project(project=project):
        label = c["label"]
        options = []
        if label.uploaded:
            options.append(
                {
                    "paths": json.dumps(label.uploaded),
                    "text": " | ".join(_path_text(tree, p) for p in label.uploaded),
                    "who": "uploaded gold",
                }
            )
        for d in c["decisions"]:
            if any(norm(json.loads(o["paths"])) == norm(d.after_paths) for o in options):
                match = next(o for o in options if norm(json.loads(o["paths"])) == norm(d.after_paths))
                match["who"] += f", {d.annotator.username}"
                continue
            options.append(
                {
                    "paths": json.dumps(d.after_paths),
                    "text": " | ".join(_path_text(tree, p) for p in d.after_paths),
                    "who": d.annotator.username,
                }
            )
        conflicts.append(
            {
                "document": c["document"],
                "kind": "annotators" if len({norm(d.after_paths) for d in c["decisions"]}) > 1 else "uploaded gold",
                "decisions": [(d, " | ".join(_path_text(tree, p) for p in d.after_paths)) for d in c["decisions"]],
                "options": options,
                "version": max(d.pk for d in c["decisions"]),
                "prediction": Prediction.objects.filter(document=c["document"]).order_by("-id").first(),
            }
        )
    return render(
        request,
        "review/agreement.html",
        {
            "project": project,
            "pairs": agreement_for_project(project=project),
            "conflicts": conflicts,
            "is_owner": project.current_membership.has_role(Role.OWNER),
        },
    )


@login_required
@require_POST
def adjudicate(request: HttpRequest, project_id: int, document_id: int) -> HttpResponse:
    """An owner settles a conflict: the chosen path becomes the document's adjudicated label."""
    project = project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)
    from corpora.models import Document

    document = get_object_or_404(Document, project=project, pk=document_id)
    try:
        paths = json.loads(request.POST.get("paths") or "[]")
        correction_record(
            project=project,
            document=document,
            annotator=request.user,
            action=Correction.Action.CHANGE,
            after_paths=paths,
            settles=True,
            seen_version=id_param(request.POST.get("version"), 0) if "version" in request.POST else None,
        )
    except (ValidationError, json.JSONDecodeError, TypeError, ValueError) as exc:
        messages.error(request, f"{isolate(document.external_id)}: " + " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, f"{isolate(document.external_id)}: adjudicated.")
    return redirect("review:agreement", project_id=project.pk)


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
    body = exports.as_csv(rows, depth=exports.export_depth(project=project)) if fmt == "csv" else exports.as_jsonl(rows)
    content_type = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson; charset=utf-8"
    response = StreamingHttpResponse(body, content_type=content_type)
    name = f"{what}-{run.pk}" if run else what
    response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-{name}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
