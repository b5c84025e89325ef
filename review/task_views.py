"""Review tasks ("which child?" after a split): the task's documents and the decision page with the tree picker."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from corpora.models import Document, GoldLabel
from projects.models import Role
from projects.selectors import project_for_user
from review.models import Correction, ReviewTask
from review.tasks import split_task_choices, split_task_decide, split_task_next, split_task_remaining
from taxonomies.selectors import taxonomy_tree


def _task(project, task_id: int) -> ReviewTask:
    return get_object_or_404(ReviewTask.objects.select_related("node"), project=project, pk=task_id)


@login_required
@require_GET
def task_detail(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    """The task's documents with their current gold label; decided ones are those moved below the node."""
    project = project_for_user(user=request.user, project_id=project_id)
    task = _task(project, task_id)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    remaining = set(split_task_remaining(task=task))
    page = Paginator(Document.objects.filter(pk__in=task.document_ids).order_by("id"), 50).get_page(
        request.GET.get("page")
    )
    gold: dict[int, list[str]] = {}
    for doc_id, node_id in GoldLabel.objects.filter(document__in=page.object_list).values_list(
        "document_id", "node_id"
    ):
        gold.setdefault(doc_id, []).append(tree.path_shown(node_id) if node_id in tree.nodes else f"#{node_id}")
    rows = [{"document": d, "gold": " | ".join(gold.get(d.pk, [])), "open": d.pk in remaining} for d in page]
    return render(
        request,
        "review/task.html",
        {
            "project": project,
            "task": task,
            "node_path": tree.path_shown(task.node_id),
            "children": [tree.path_shown(n.pk) for n in split_task_choices(task=task) if n.parent_id == task.node_id],
            "page": page,
            "rows": rows,
            "total": len(task.document_ids),
            "remaining": len(remaining),
            "can_review": project.current_membership.has_role(Role.ANNOTATOR),
        },
    )


@login_required
@require_GET
def task_next(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    task = _task(project, task_id)
    skipped = request.session.get(f"task-skip-{task.pk}", [])
    document = split_task_next(task=task, annotator=request.user, skipped=skipped)
    if document is None:
        messages.info(request, "Nothing left for you to decide in this task.")
        return redirect("review:task", project_id=project.pk, task_id=task.pk)
    return redirect("review:task_item", project_id=project.pk, task_id=task.pk, document_id=document.pk)


@login_required
@require_http_methods(["GET", "POST"])
def task_item(request: HttpRequest, project_id: int, task_id: int, document_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    task = _task(project, task_id)
    document = get_object_or_404(Document, project=project, pk=document_id)
    if document.pk not in set(task.document_ids):
        return redirect("review:task", project_id=project.pk, task_id=task.pk)
    next_url = reverse("review:task_next", args=[project.pk, task.pk])
    if request.method == "POST":
        project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        action = request.POST.get("action", "")
        if action == "skip":
            key = f"task-skip-{task.pk}"
            request.session[key] = [*request.session.get(key, []), document.pk][-1000:]
            return redirect(next_url)
        try:
            if action != "change":
                raise ValidationError(f"This task asks which label under {task.node.name!r} fits: choose one or skip.")
            paths = json.loads(request.POST.get("paths") or "[]")
            if not isinstance(paths, list) or len(paths) != 1:
                raise ValidationError("Choose one label.")
            split_task_decide(task=task, document=document, annotator=request.user, path=paths[0])
        except (ValidationError, json.JSONDecodeError, TypeError, ValueError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            return redirect(next_url)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    node_path = tree.path_ids(task.node_id)
    allowed = [*node_path[:-1], *tree.descendant_ids(task.node_id)]
    picker_nodes = [
        {"id": nid, "name": tree.nodes[nid].name, "parent": tree.nodes[nid].parent_id, "path": tree.path_label(nid)}
        for nid in allowed
    ]
    return render(
        request,
        "review/task_item.html",
        {
            "project": project,
            "task": task,
            "document": document,
            "node_path": tree.path_shown(task.node_id),
            "history": Correction.objects.filter(document=document).select_related("annotator")[:50],
            # The picker opens on the children of the split node and offers nothing outside its subtree.
            "picker": {
                "nodes": picker_nodes,
                "initial": [node_path],
                "startLevel": len(node_path),
                "multiPath": False,
                "allowInternal": project.allow_internal_labels,
            },
            "can_review": project.current_membership.has_role(Role.ANNOTATOR),
            "still_open": document.pk in set(split_task_remaining(task=task)),
        },
    )
