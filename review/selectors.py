"""The review queue: which predictions most need a human, with filters."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When

from classifiers.models import Prediction
from corpora.models import GoldLabel
from review.models import Correction
from taxonomies.models import Node

#: Prediction.stage of the documents a cascade run left to a human (classifiers.engine.cascade.REVIEW).
REVIEW_STAGE = "review"
COUNT_CACHE_SECONDS = 30

ORDERINGS = {
    # Invalid answers first, then inconsistent paths, then the lowest margin at the level the model is least sure of.
    "uncertainty": [F("valid").asc(), F("consistent").asc(), F("margin").asc(nulls_last=True), "document_id"],
    "document": ["document_id"],
}


def _check_order(order: str) -> None:
    if order not in ORDERINGS:
        raise ValueError(f"unknown order {order!r}; choose one of {sorted(ORDERINGS)}")


def review_queue(
    *,
    run,
    split: str | None = None,
    order: str = "uncertainty",
    node: Node | None = None,
    reviewed: bool | None = None,
    corrected_only: bool = False,
    disagrees_with_gold: bool = False,
) -> QuerySet[Prediction]:
    """Predictions of a run in review order.

    `node` keeps predictions whose deepest predicted label is the node or one of its descendants;
    `reviewed` True/False keeps documents with/without a current decision (a withdrawn one does not count);
    `corrected_only` keeps predictions a corrector changed; `disagrees_with_gold` keeps documents with an
    uploaded gold label whose predicted deepest label is not one of the document's gold labels.
    """
    _check_order(order)
    qs = _queue_filtered(
        run=run,
        split=split,
        node=node,
        reviewed=reviewed,
        corrected_only=corrected_only,
        disagrees_with_gold=disagrees_with_gold,
    )
    ordering = list(ORDERINGS[order])
    if order == "uncertainty" and run.strategy == "cascade":
        # Documents the cascade sent to human review come first (only cascade runs pay for this sort).
        ordering.insert(0, Case(When(stage=REVIEW_STAGE, then=Value(0)), default=Value(1), output_field=IntegerField()))
    return qs.order_by(*ordering)


def _queue_filtered(
    *, run, split=None, node=None, reviewed=None, corrected_only=False, disagrees_with_gold=False
) -> QuerySet[Prediction]:
    qs = Prediction.objects.filter(run=run).select_related("document")
    if split is not None:
        qs = qs.filter(document__split=split)
    if node is not None:
        ids = Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key).values("pk")
        qs = qs.filter(leaf_node__in=ids)
    if reviewed is not None:
        decided = Correction.objects.filter(document=OuterRef("document_id"), superseded_by__isnull=True).exclude(
            action=Correction.Action.UNDO
        )
        qs = qs.filter(Exists(decided)) if reviewed else qs.exclude(Exists(decided))
    if corrected_only:
        qs = qs.exclude(raw_paths=[]).exclude(raw_paths=F("paths"))
    if disagrees_with_gold:
        gold = GoldLabel.objects.filter(document=OuterRef("document_id"))
        qs = qs.filter(Exists(gold)).exclude(Exists(gold.filter(node_id=OuterRef("leaf_node"))))
    return qs


# Keyset (seek) paging ---------------------------------------------------------------------------------------
#
# The "uncertainty" order (invalid, inconsistent, then margin with missing margins last, then document) is read
# as a series of segments, each one range of the index prediction_review_order (run, valid, consistent, margin,
# document): for each (valid, consistent) the rows with a margin, by (margin, document), then those without,
# by document (cascade runs first take the documents sent to review). A page seeks into the segment its cursor
# names and reads on, so page 1 and page 10,000 cost the same and no sort happens in SQL; a decision taken
# meanwhile never shifts a page (nothing is skipped or shown twice).


@dataclass(frozen=True)
class QueueCursor:
    segment: int
    margin: float | None
    document_id: int

    def encode(self) -> str:
        return f"{self.segment}~{'' if self.margin is None else repr(self.margin)}~{self.document_id}"

    @classmethod
    def decode(cls, text: str | None) -> QueueCursor | None:
        """The cursor in `text`, or None for anything malformed (the queue then starts at the top)."""
        if not text:
            return None
        try:
            segment, margin, document_id = str(text).split("~")
            value = float(margin) if margin else None
            if value is not None and not math.isfinite(value):
                return None
            return cls(int(segment), value, int(document_id))
        except ValueError:
            return None


@dataclass
class QueuePage:
    items: list[Prediction]
    next_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def _segments(run, order: str) -> list[tuple[Q, tuple[str, ...]]]:
    if order == "document":
        return [(Q(), ("document_id",))]
    groups = [Q(stage=REVIEW_STAGE), ~Q(stage=REVIEW_STAGE)] if run.strategy == "cascade" else [Q()]
    segments = []
    for group in groups:
        for valid in (False, True):
            for consistent in (False, True):
                # `IN (x)` rather than `= x`: SQLite renders a boolean equality as `NOT col`, which no index serves.
                same = group & Q(valid__in=[valid], consistent__in=[consistent])
                segments.append((same & Q(margin__isnull=False), ("margin", "document_id")))
                segments.append((same & Q(margin__isnull=True), ("document_id",)))
    return segments


def review_queue_page(
    *,
    run,
    cursor: QueueCursor | None = None,
    size: int = 50,
    order: str = "uncertainty",
    split: str | None = None,
    node: Node | None = None,
    reviewed: bool | None = None,
    corrected_only: bool = False,
    disagrees_with_gold: bool = False,
    exclude_documents: QuerySet | None = None,
    exclude_predictions: list[int] | None = None,
) -> QueuePage:
    """Up to `size` predictions after `cursor` in queue order (the same order as `review_queue`)."""
    _check_order(order)
    base = _queue_filtered(
        run=run,
        split=split,
        node=node,
        reviewed=reviewed,
        corrected_only=corrected_only,
        disagrees_with_gold=disagrees_with_gold,
    )
    if exclude_documents is not None:
        base = base.exclude(document_id__in=exclude_documents)
    if exclude_predictions:
        base = base.exclude(pk__in=exclude_predictions)
    segments = _segments(run, order)
    start = 0
    if cursor is not None:
        start = min(max(cursor.segment, 0), len(segments))
    found: list[tuple[int, Prediction]] = []
    for index in range(start, len(segments)):
        condition, keys = segments[index]
        qs = base.filter(condition)
        if cursor is not None and index == cursor.segment:
            if keys == ("margin", "document_id"):
                if cursor.margin is None:
                    continue
                # (margin, document) > (m, d), written so the margin bound opens an index range.
                qs = qs.filter(margin__gte=cursor.margin).exclude(
                    margin=cursor.margin, document_id__lte=cursor.document_id
                )
            else:
                qs = qs.filter(document_id__gt=cursor.document_id)
        want = size + 1 - len(found)
        found += [(index, p) for p in qs.order_by(*keys)[:want]]
        if len(found) > size:
            break
    next_cursor = None
    if len(found) > size:
        index, last = found[size - 1]
        margin = last.margin if segments[index][1][0] == "margin" else None
        next_cursor = QueueCursor(index, margin, last.document_id).encode()
    return QueuePage(items=[p for _, p in found[:size]], next_cursor=next_cursor)


def review_queue_count(*, run, **filters) -> int:
    """How many predictions the filtered queue holds, counted at most every COUNT_CACHE_SECONDS per filter and
    again whenever a decision is recorded in the project (the newest decision's id is part of the key)."""
    newest = Correction.objects.filter(project_id=run.project_id).order_by("-id").values_list("id", flat=True).first()
    named = {k: (v.pk if isinstance(v, Node) else v) for k, v in filters.items()}
    key = "review-count:" + hashlib.sha256(repr((run.pk, newest, sorted(named.items()))).encode()).hexdigest()
    found = cache.get(key)
    if found is None:
        found = _queue_filtered(run=run, **filters).count()
        cache.set(key, found, COUNT_CACHE_SECONDS)
    return found


def document_history(*, document) -> QuerySet[Correction]:
    """Every decision on a document, newest first, superseded ones included."""
    return (
        Correction.objects.filter(document=document).select_related("annotator", "run").order_by("-created_at", "-id")
    )
