"""Small helpers shared by the taxonomy tests: documents with gold labels, paths by name."""

from __future__ import annotations

from corpora.models import Corpus, Document, GoldLabel
from taxonomies.models import Node


def label_documents(project, node, count: int, prefix: str | None = None) -> list[Document]:
    """Create `count` documents whose gold path ends at `node`."""
    corpus, _ = Corpus.objects.get_or_create(project=project, name="test corpus")
    prefix = prefix or f"{node.name}-{node.pk}"
    docs = [
        Document.objects.create(project=project, corpus=corpus, external_id=f"{prefix}-{i}", text=f"text {i}")
        for i in range(count)
    ]
    GoldLabel.objects.bulk_create([GoldLabel(document=d, node=node) for d in docs])
    return docs


def gold_paths(project) -> dict[str, list[str]]:
    """external_id -> sorted gold path labels ("A > B"), read back from the database."""
    out: dict[str, list[str]] = {}
    for label in GoldLabel.objects.filter(document__project=project).select_related("document", "node"):
        out.setdefault(label.document.external_id, []).append(path_of(label.node))
    return {k: sorted(v) for k, v in out.items()}


def path_of(node: Node) -> str:
    """The node's path of names, read through its parent links."""
    names = []
    current = Node.objects.get(pk=node.pk)
    while current is not None:
        names.append(current.name)
        current = current.parent
    return " > ".join(reversed(names))


def tree_shape(project) -> set[str]:
    """Every path in the project's taxonomy, checking that depth and path_key agree with the parent links."""
    paths = set()
    for node in Node.objects.filter(taxonomy=project.taxonomy):
        chain = []
        current = node
        while current is not None:
            chain.append(current)
            current = current.parent
        chain.reverse()
        assert node.depth == len(chain), f"depth of {node.name} is {node.depth}, expected {len(chain)}"
        assert node.path_key == "/" + "".join(f"{n.pk}/" for n in chain)
        paths.add(" > ".join(n.name for n in chain))
    return paths
