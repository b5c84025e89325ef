"""The review queue: which predictions most need a human, with filters."""

from __future__ import annotations

from django.db.models import Case, Exists, F, IntegerField, OuterRef, QuerySet, Value, When

from classifiers.models import Prediction
from review.models import Correction
from taxonomies.models import Node

#: Prediction.stage of the documents a cascade run left to a human (classifiers.engine.cascade.REVIEW).
REVIEW_STAGE = "review"

ORDERINGS = {
    # Invalid answers first, then inconsistent paths, then the lowest margin at the level the model is least sure of.
    "uncertainty": [F("valid").asc(), F("consistent").asc(), F("margin").asc(nulls_last=True), "document_id"],
    "document": ["document_id"],
}


def review_queue(
    *,
    run,
    split: str | None = None,
    order: str = "uncertainty",
    node: Node | None = None,
    reviewed: bool | None = None,
    corrected_only: bool = False,
) -> QuerySet[Prediction]:
    """Predictions of a run in review order.

    `node` keeps predictions whose deepest predicted label is the node or one of its descendants;
    `reviewed` True/False keeps documents with/without a current decision; `corrected_only` keeps
    predictions a corrector changed.
    """
    if order not in ORDERINGS:
        raise ValueError(f"unknown order {order!r}; choose one of {sorted(ORDERINGS)}")
    qs = Prediction.objects.filter(run=run).select_related("document")
    if split is not None:
        qs = qs.filter(document__split=split)
    if node is not None:
        ids = Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key).values("pk")
        qs = qs.filter(leaf_node__in=ids)
    if reviewed is not None:
        decided = Correction.objects.filter(document=OuterRef("document_id"), superseded_by__isnull=True)
        qs = qs.filter(Exists(decided)) if reviewed else qs.exclude(Exists(decided))
    if corrected_only:
        qs = qs.exclude(raw_paths=[]).exclude(raw_paths=F("paths"))
    ordering = list(ORDERINGS[order])
    if order == "uncertainty" and run.strategy == "cascade":
        # Documents the cascade sent to human review come first (only cascade runs pay for this sort).
        ordering.insert(0, Case(When(stage=REVIEW_STAGE, then=Value(0)), default=Value(1), output_field=IntegerField()))
    return qs.order_by(*ordering)


def document_history(*, document) -> QuerySet[Correction]:
    """Every decision on a document, newest first, superseded ones included."""
    return (
        Correction.objects.filter(document=document).select_related("annotator", "run").order_by("-created_at", "-id")
    )
