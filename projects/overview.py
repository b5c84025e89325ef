"""Figures for the project page: documents per node and per level."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count

from projects.models import Project


def project_overview(*, project: Project) -> dict:
    from corpora.models import Document, GoldLabel, Split
    from taxonomies.selectors import taxonomy_tree

    tree = taxonomy_tree(taxonomy=project.taxonomy)
    direct = dict(
        GoldLabel.objects.filter(document__project=project)
        .values_list("node_id")
        .annotate(n=Count("document_id", distinct=True))
    )
    # A document counts for its node and every ancestor (once per node even with several paths below it).
    per_node: Counter = Counter()
    pairs = GoldLabel.objects.filter(document__project=project).values_list("document_id", "node_id")
    seen: dict[int, set[int]] = {}
    # Per level: documents with at least one label at that depth (a document with two paths counts once),
    # beside the label assignments (which do count twice).
    docs_at_level: dict[int, set[int]] = {}
    for doc_id, node_id in pairs.iterator(chunk_size=5000):
        for anc in tree.path_ids(node_id):
            bucket = seen.setdefault(anc, set())
            if doc_id not in bucket:
                bucket.add(doc_id)
                per_node[anc] += 1
            docs_at_level.setdefault(tree.depth(anc), set()).add(doc_id)
    assignments: Counter = Counter()
    for node_id, count in per_node.items():
        assignments[tree.depth(node_id)] += count
    level_counts = [(level, len(docs), assignments[level]) for level, docs in sorted(docs_at_level.items())]
    splits = dict(Document.objects.filter(project=project).values_list("split").annotate(n=Count("id")))
    rows = [
        {"node": tree.nodes[nid], "depth": tree.depth(nid), "count": per_node.get(nid, 0), "direct": direct.get(nid, 0)}
        for nid in tree.preorder()
    ]
    return {
        "node_rows": rows,
        "level_counts": level_counts,
        "document_count": sum(splits.values()),
        "split_counts": [(Split(k).label if k in Split.values else k, v) for k, v in sorted(splits.items())],
        "corpora": project.corpora.annotate(n=Count("documents")),
    }
