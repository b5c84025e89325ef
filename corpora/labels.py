"""Gold-label and generated-document writes other apps ask for: a "which child?" refinement after a split
(`gold_label_refine`; review never writes the uploaded gold otherwise), taxonomy
merges and deletes (`gold_labels_reassign`), LLM-written examples (`generated_documents_add`).

The corpora app alone writes its tables; this module imports only corpora's models, so taxonomies, review and
classifiers may call it without an import cycle."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Min

from corpora.models import Corpus, Document, GoldLabel, Split

GENERATED_CORPUS = "LLM-generated examples"


@transaction.atomic
def gold_label_refine(*, document: Document, node, child) -> bool:
    """Move a document's gold label from `node` down to `child`, one of its descendants (a "which child?"
    decision after the label was split). The only write to GoldLabel on behalf of review, and it never loses the
    uploaded label: that label stays on the new path as an ancestor, and the row says `source="refined"` (the
    decision itself is a review.Correction). Returns False when the document was not labelled `node`."""
    if child.pk == node.pk or not child.path_key.startswith(node.path_key):
        raise ValidationError(f"{child.name!r} is not below {node.name!r}.")
    label = GoldLabel.objects.filter(document=document, node=node).first()
    if label is None:
        return False
    if GoldLabel.objects.filter(document=document, node=child).exists():
        label.delete()
    else:
        label.node = child
        label.source = "refined"
        label.save(update_fields=["node", "source"])
    return True


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
