"""Gold-label and generated-document writes other apps ask for: review decisions (`gold_labels_set`), taxonomy
merges and deletes (`gold_labels_reassign`), LLM-written examples (`generated_documents_add`).

The corpora app alone writes its tables; this module imports only corpora's models, so taxonomies, review and
classifiers may call it without an import cycle."""

from __future__ import annotations

import hashlib

from django.db import models, transaction
from django.db.models import Min

from corpora.models import Corpus, Document, GoldLabel, Split

GENERATED_CORPUS = "LLM-generated examples"


def gold_labels_set(*, document: Document, node_ids: set[int], source: str) -> None:
    """Make `node_ids` (deepest nodes) the document's gold labels, every one marked `source`."""
    existing = set(GoldLabel.objects.filter(document=document).values_list("node_id", flat=True))
    if existing != node_ids:
        GoldLabel.objects.filter(document=document).exclude(node_id__in=node_ids).delete()
        GoldLabel.objects.bulk_create(
            [GoldLabel(document=document, node_id=n, source=source) for n in node_ids - existing]
        )
    GoldLabel.objects.filter(document=document).update(source=source)


def gold_labels_reassign(*, from_nodes: models.QuerySet, to_node) -> int:
    """Move the GoldLabels on `from_nodes` to `to_node`, one label per document; returns documents moved."""
    on_from = GoldLabel.objects.filter(node__in=from_nodes)
    documents = on_from.values("document").distinct().count()
    if not documents:
        return 0
    # A document that already carries the target (or several labels in `from_nodes`) keeps one row.
    on_from.filter(document__in=GoldLabel.objects.filter(node=to_node).values("document")).delete()
    keep = GoldLabel.objects.filter(node__in=from_nodes).values("document").annotate(first=Min("id")).values("first")
    GoldLabel.objects.filter(node__in=from_nodes).exclude(pk__in=keep).delete()
    GoldLabel.objects.filter(node__in=from_nodes).update(node=to_node)
    return documents


@transaction.atomic
def generated_documents_add(*, project, actor, examples: list[tuple[int, str, dict]]) -> int:
    """Store LLM-written `(node_id, text, meta)` examples as generated train documents labelled with their node, in
    the project's generated corpus; an example already stored (same node and text) is skipped. Returns how many
    were written."""
    if not examples:
        return 0
    corpus = Corpus.objects.filter(project=project, name=GENERATED_CORPUS, stats__generated=True).first()
    if corpus is None:
        corpus = Corpus.objects.create(
            project=project, name=GENERATED_CORPUS, stats={"generated": True}, created_by=actor
        )
    rows = [
        (
            Document(
                project=project,
                corpus=corpus,
                external_id=f"generated-{node_id}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}",
                text=text,
                split=Split.TRAIN,
                length=len(text),
                generated=True,
                meta=meta,
            ),
            node_id,
        )
        for node_id, text, meta in examples
    ]
    taken = set(
        Document.objects.filter(project=project, external_id__in=[d.external_id for d, _ in rows]).values_list(
            "external_id", flat=True
        )
    )
    fresh = [(d, n) for d, n in rows if d.external_id not in taken]
    made = Document.objects.bulk_create([d for d, _ in fresh])
    GoldLabel.objects.bulk_create(
        GoldLabel(document=d, node_id=n, source="generated") for d, (_, n) in zip(made, fresh, strict=True)
    )
    corpus.stats = {**corpus.stats, "documents": Document.objects.filter(corpus=corpus).count()}
    corpus.save(update_fields=["stats"])
    return len(made)
