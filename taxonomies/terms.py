"""Machine-found class-indicative terms (taxonomy enrichment) and their provenance.

`Node.terms_source` says where a label's terms came from. People's terms ("edited", or terms that came with
an imported taxonomy) win over machine ones: enrichment replaces them only when asked.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from taxonomies.models import Node, Taxonomy

#: Term sources a machine wrote: enrichment may replace them. Anything else ("edited", or terms that came
#: with an imported taxonomy) was given by a person and is kept unless `replace_edited`.
MACHINE_TERM_SOURCES = {"mined", "llm", "mined+llm"}


@transaction.atomic
def taxonomy_enrich_terms(
    *, taxonomy: Taxonomy, terms: dict[int, list[str]], source: str, actor=None, replace_edited: bool = False
) -> dict:
    """Store machine-found terms ({node id: terms}) with their `source` ("mined", "llm" or "mined+llm").

    Nodes whose terms a person gave are kept unless `replace_edited`; nodes with no new terms are left
    alone. Records one change in the history for the whole enrichment (when anything changed).
    Returns {"updated": [node ids], "kept_edited": [node ids]}."""
    from taxonomies.services import MAX_TERM_CHARS, MAX_TERMS, clean_terms, taxonomy_record_change

    if source not in MACHINE_TERM_SOURCES:
        raise ValidationError({"source": f"Unknown term source {source!r}."})
    taxonomy = Taxonomy.objects.select_for_update().get(pk=taxonomy.pk)
    updated: list[int] = []
    kept: list[int] = []
    nodes = {n.pk: n for n in Node.objects.filter(taxonomy=taxonomy, pk__in=list(terms))}
    for node_id, new_terms in terms.items():
        node = nodes.get(node_id)
        cleaned = clean_terms([t[:MAX_TERM_CHARS] for t in new_terms][:MAX_TERMS])
        if node is None or not cleaned:
            continue
        person_given = node.terms_source not in MACHINE_TERM_SOURCES and (node.terms or node.terms_source == "edited")
        if person_given and not replace_edited:
            kept.append(node.pk)
            continue
        if cleaned == node.terms and node.terms_source == source:
            continue
        node.terms, node.terms_source = cleaned, source
        updated.append(node.pk)
    Node.objects.bulk_update([nodes[pk] for pk in updated], ["terms", "terms_source"], batch_size=500)
    if updated:
        taxonomy_record_change(
            taxonomy=taxonomy,
            action="edit",
            actor=actor,
            details={
                "enrich": source,
                "nodes": len(updated),
                "kept_edited": len(kept),
                "sample": {str(pk): nodes[pk].terms[:10] for pk in updated[:20]},
            },
        )
    return {"updated": updated, "kept_edited": kept}
