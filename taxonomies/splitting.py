"""Growing the label tree under a node: split it into children, or add sub-labels to a labelled node.

The documents labelled with the node itself stay on it (nothing is orphaned); they become a review
task "which child?" (`review.models.ReviewTask`), decided in the review app, where each decision moves
the gold label down to a child and is recorded as a Correction.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from taxonomies.models import Node

MAX_SPLIT_CHILDREN = 100


def _clean_child_names(children: list[str]) -> list[str]:
    from taxonomies.services import _validate_name

    names: list[str] = []
    for raw in children:
        if not (raw or "").strip():
            continue
        name = _validate_name(raw)
        if name in names:
            raise ValidationError({"children": f"The name {name!r} is given twice."})
        names.append(name)
    if not names:
        raise ValidationError({"children": "Name at least one child label."})
    if len(names) > MAX_SPLIT_CHILDREN:
        raise ValidationError({"children": f"Split into at most {MAX_SPLIT_CHILDREN} children at a time."})
    return names


@transaction.atomic
def node_split(*, node: Node, children: list[str], actor) -> dict:
    """Create `children` under `node` as one versioned change; returns {"children", "documents", "task"}.

    Documents labelled `node` itself keep that label and are put in a "which child?" review task
    (`task` is None when there are none). Names must be new among the node's children."""
    from corpora.models import GoldLabel
    from taxonomies.services import _ensure_free_name, _lock, _path_label, _record_change, node_create

    node, taxonomy = _lock(node)
    names = _clean_child_names(children)
    if node.depth + 1 > settings.HTC_MAX_TAXONOMY_DEPTH:
        raise ValidationError(
            {"children": f"The taxonomy may be at most {settings.HTC_MAX_TAXONOMY_DEPTH} levels deep."}
        )
    for name in names:
        _ensure_free_name(taxonomy=taxonomy, parent=node, name=name)
    made = [node_create(taxonomy=taxonomy, name=name, parent=node, actor=actor, record=False) for name in names]
    document_ids = sorted(set(GoldLabel.objects.filter(node=node).values_list("document_id", flat=True)))
    _record_change(
        taxonomy=taxonomy,
        action="split",
        actor=actor,
        details={
            "node": node.pk,
            "path": _path_label(node),
            "children": [c.pk for c in made],
            "names": names,
            "documents_to_review": len(document_ids),
        },
    )
    task = split_task_ensure(node=node, actor=actor, version=taxonomy.version) if document_ids else None
    return {"children": made, "documents": len(document_ids), "task": task}


@transaction.atomic
def split_task_ensure(*, node: Node, actor, version: int | None = None):
    """The open "which child?" task for `node`, created or extended with every document labelled `node`
    itself; None when the node has no children or no such documents. Call it after adding sub-labels."""
    from corpora.models import GoldLabel
    from review.models import ReviewTask

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
    from corpora.models import GoldLabel

    return sorted(
        set(
            GoldLabel.objects.filter(node_id=task.node_id, document_id__in=task.document_ids).values_list(
                "document_id", flat=True
            )
        )
    )
