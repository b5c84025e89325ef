"""Growing the label tree under a node: split it into children, or add sub-labels to a labelled node.

The documents labelled with the node itself stay on it (nothing is orphaned); they become a review
task "which child?" (`review.tasks.split_task_ensure`), decided in the review app, where each decision moves
the gold label down to a child and is recorded as a Correction.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from taxonomies.models import Node

MAX_SPLIT_CHILDREN = 100


def _clean_child_names(children: list[str]) -> list[str]:
    from taxonomies.services import validate_name

    names: list[str] = []
    for raw in children:
        if not (raw or "").strip():
            continue
        name = validate_name(raw)
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
    from review.tasks import split_task_ensure  # the review app writes its own task
    from taxonomies.services import ensure_free_name, node_create, node_lock, node_path_label, taxonomy_record_change

    node, taxonomy = node_lock(node)
    names = _clean_child_names(children)
    if node.depth + 1 > settings.HTC_MAX_TAXONOMY_DEPTH:
        raise ValidationError(
            {"children": f"The taxonomy may be at most {settings.HTC_MAX_TAXONOMY_DEPTH} levels deep."}
        )
    for name in names:
        ensure_free_name(taxonomy=taxonomy, parent=node, name=name)
    made = [node_create(taxonomy=taxonomy, name=name, parent=node, actor=actor, record=False) for name in names]
    document_ids = sorted(set(GoldLabel.objects.filter(node=node).values_list("document_id", flat=True)))
    taxonomy_record_change(
        taxonomy=taxonomy,
        action="split",
        actor=actor,
        details={
            "node": node.pk,
            "path": node_path_label(node),
            "children": [c.pk for c in made],
            "names": names,
            "documents_to_review": len(document_ids),
        },
    )
    task = split_task_ensure(node=node, actor=actor, version=taxonomy.version) if document_ids else None
    return {"children": made, "documents": len(document_ids), "task": task}
