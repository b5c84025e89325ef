"""Review tasks left by taxonomy changes ("which child?" after a split): reads and the decision service.

A decision is an ordinary Correction (who, when, before, after), so it shows in the document's history and
counts for agreement; it also refines the uploaded label from the split node down to the chosen child
(corpora.services.gold_label_refine), the one case where review moves an uploaded label, and only downwards.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from corpora.models import Document, GoldLabel
from htc_app.params import id_param
from review.models import Correction, ReviewTask
from taxonomies.models import Node


def review_tasks_for_project(*, project) -> list[dict]:
    """The project's review tasks, newest first, each with its totals: {"task", "total", "remaining"}."""
    out = []
    for task in ReviewTask.objects.filter(project=project).select_related("node"):
        remaining = split_task_remaining(task=task)
        out.append({"task": task, "total": len(task.document_ids), "remaining": len(remaining)})
    return out


def split_task_for_node(*, node: Node) -> dict | None:
    """The newest "which child?" task of a label with its totals, or None."""
    task = ReviewTask.objects.filter(kind=ReviewTask.Kind.SPLIT, node=node).order_by("-id").first()
    if task is None:
        return None
    return {"task": task, "total": len(task.document_ids), "remaining": len(split_task_remaining(task=task))}


def split_task_choices(*, task: ReviewTask) -> list[Node]:
    """The labels a document of the task can move to: every current descendant of the split node."""
    node = task.node
    return list(
        Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key)
        .exclude(pk=node.pk)
        .order_by("depth", "position", "name", "id")
    )


def split_task_next(*, task: ReviewTask, annotator, skipped: list[int] = ()) -> Document | None:
    """The first document of the task still on the split node that this annotator has not decided or skipped."""
    remaining = split_task_remaining(task=task)
    decided = set(
        Correction.objects.filter(
            document_id__in=remaining, annotator=annotator, superseded_by__isnull=True, created_at__gte=task.created_at
        ).values_list("document_id", flat=True)
    )
    for doc_id in remaining:
        if doc_id not in decided and doc_id not in skipped:
            return Document.objects.get(pk=doc_id)
    return None


@transaction.atomic
def split_task_decide(*, task: ReviewTask, document: Document, annotator, path: list[int]) -> Correction:
    """Record the annotator's choice of a child for a document of the task; returns the Correction.

    `path` (node ids from the top) must end strictly below the split node; the document's uploaded label moves
    down from the split node to that child (marked "refined")."""
    from review.services import correction_record

    if document.pk not in set(task.document_ids):
        raise ValidationError("This document is not part of the task.")
    node = task.node
    # Ids as the picker sends them, whole numbers: int() would read 1.5 as 1 and True as 1, and crash on 1e400.
    if not isinstance(path, list) or any(id_param(i) != i for i in path):
        raise ValidationError("A decision needs a path of label ids.")
    choices = {n.pk for n in split_task_choices(task=task)}
    if not path or path[-1] not in choices:
        raise ValidationError(f"Choose a label under {node.name!r}.")
    from corpora.labels import gold_label_refine

    correction = correction_record(
        project=task.project,
        document=document,
        annotator=annotator,
        action=Correction.Action.CHANGE,
        after_paths=[path],
    )
    # The split left the uploaded label on a node that now has children: refine it to the chosen child (the
    # uploaded label stays on the path as an ancestor; see corpora.labels.gold_label_refine).
    gold_label_refine(document=document, node=node, child=Node.objects.get(pk=path[-1]))
    return correction


@transaction.atomic
def split_task_ensure(*, node: Node, actor, version: int | None = None):
    """The open "which child?" task for `node`, created or extended with every document labelled `node`
    itself; None when the node has no children or no such documents. Call it after adding sub-labels."""
    if not Node.objects.filter(parent=node).exists():
        return None
    document_ids = set(GoldLabel.objects.filter(node=node).values_list("document_id", flat=True))
    if not document_ids:
        return None
    version = node.taxonomy.version if version is None else version
    task = ReviewTask.objects.filter(kind=ReviewTask.Kind.SPLIT, node=node).order_by("-id").first()
    if task is not None and split_task_remaining(task=task):
        task.document_ids = sorted(set(task.document_ids) | document_ids)
        task.taxonomy_version = version
        task.save(update_fields=["document_ids", "taxonomy_version"])
        return task
    return ReviewTask.objects.create(
        project_id=node.taxonomy.project_id,
        kind=ReviewTask.Kind.SPLIT,
        node=node,
        document_ids=sorted(document_ids),
        taxonomy_version=version,
        created_by=actor,
    )


def split_task_remaining(*, task) -> list[int]:
    """Ids of the task's documents still labelled the split node itself (not yet moved to a child)."""
    return sorted(
        set(
            GoldLabel.objects.filter(node_id=task.node_id, document_id__in=task.document_ids).values_list(
                "document_id", flat=True
            )
        )
    )
