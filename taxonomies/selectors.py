"""Reads of the label tree. `taxonomy_tree` loads a whole taxonomy in one query into an index
that answers paths, depths, children and descendants without recursion (fast at 20,000+ nodes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from htc_app.bidi import isolate_path
from taxonomies.models import Node, Taxonomy


@dataclass
class TreeIndex:
    nodes: dict[int, Node]
    children: dict[int | None, list[int]] = field(default_factory=dict)

    def parent_id(self, node_id: int) -> int | None:
        return self.nodes[node_id].parent_id

    def path_ids(self, node_id: int) -> list[int]:
        """Root-to-node ids (iterative; a corrupt cycle cannot loop forever)."""
        out: list[int] = []
        current: int | None = node_id
        while current is not None and len(out) <= len(self.nodes):
            out.append(current)
            current = self.nodes[current].parent_id
        out.reverse()
        return out

    def path_names(self, node_id: int) -> list[str]:
        return [self.nodes[i].name for i in self.path_ids(node_id)]

    def path_label(self, node_id: int, sep: str = " > ") -> str:
        return sep.join(self.path_names(node_id))

    def path_shown(self, node_id: int, sep: str = " > ") -> str:
        """The path for a page: each name bidi-isolated (FSI ... PDI), so no name can reorder the separators."""
        return isolate_path(self.path_names(node_id), sep)

    def depth(self, node_id: int) -> int:
        return len(self.path_ids(node_id))

    def roots(self) -> list[int]:
        return self.children.get(None, [])

    def preorder(self, start: int | None = None) -> Iterator[int]:
        """Depth-first, parents before children, siblings in display order."""
        stack = list(reversed(self.children.get(start, []))) if start is None else [start]
        while stack:
            nid = stack.pop()
            yield nid
            stack.extend(reversed(self.children.get(nid, [])))

    def descendant_ids(self, node_id: int, include_self: bool = True) -> list[int]:
        ids = list(self.preorder(node_id))
        return ids if include_self else ids[1:]

    def is_leaf(self, node_id: int) -> bool:
        return not self.children.get(node_id)

    def max_depth(self) -> int:
        return max((n.depth for n in self.nodes.values()), default=0)

    def find_path(self, names: list[str]) -> int | None:
        """The node id at the end of a root-to-node list of names, or None."""
        parent: int | None = None
        for name in names:
            match = next((c for c in self.children.get(parent, []) if self.nodes[c].name == name), None)
            if match is None:
                return None
            parent = match
        return parent


def taxonomy_tree(*, taxonomy: Taxonomy) -> TreeIndex:
    nodes = {n.pk: n for n in Node.objects.filter(taxonomy=taxonomy).order_by("position", "name", "id")}
    index = TreeIndex(nodes=nodes)
    for node in nodes.values():
        index.children.setdefault(node.parent_id, []).append(node.pk)
    return index


def node_with_descendant_ids(*, node: Node) -> list[int]:
    """Ids of a node and all its descendants, by one prefix query on path_key."""
    return list(
        Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key).values_list(
            "pk", flat=True
        )
    )


def node_usage(*, node: Node) -> dict[str, int]:
    """How much a label is used: documents on it or any descendant, on it directly, and its descendants."""
    from corpora.models import GoldLabel

    subtree = Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key)
    labels = GoldLabel.objects.filter(node__in=subtree)
    return {
        "documents": labels.values("document").distinct().count(),
        "direct": GoldLabel.objects.filter(node=node).values("document").distinct().count(),
        "descendants": subtree.count() - 1,
    }


def taxonomy_changes(*, taxonomy: Taxonomy):
    """The taxonomy's recorded changes, newest first, with their actors."""
    from taxonomies.models import TaxonomyChange

    return TaxonomyChange.objects.filter(taxonomy=taxonomy).select_related("actor").order_by("-version", "-id")


def tree_rows(*, tree: TreeIndex, open_ids: set[int] | None = None) -> list[dict]:
    """The tree in display order for a nested list, without recursion.

    With `open_ids` None every label is shown expanded; otherwise only the top level and the children
    of the labels in `open_ids` are shown (large trees: the page stays small, search finds the rest).
    Each row has the node, its depth, `child_count`, `open` (its children follow) and `closes`: how
    many nested lists end after it.
    """
    shown: list[tuple[int, int]] = []  # (node id, depth)
    stack = [(nid, 1) for nid in reversed(tree.roots())]
    while stack:
        nid, depth = stack.pop()
        shown.append((nid, depth))
        if open_ids is None or nid in open_ids:
            stack.extend((child, depth + 1) for child in reversed(tree.children.get(nid, [])))
    rows = []
    for i, (nid, depth) in enumerate(shown):
        next_depth = shown[i + 1][1] if i + 1 < len(shown) else 1
        child_count = len(tree.children.get(nid, []))
        rows.append(
            {
                "node": tree.nodes[nid],
                "depth": depth,
                "child_count": child_count,
                "open": bool(child_count) and (open_ids is None or nid in open_ids),
                "closes": range(max(0, depth - next_depth)),
            }
        )
    return rows


def path_labels(*, tree: TreeIndex, sep: str = " > ") -> dict[int, str]:
    """Node id -> its path of names joined by `sep`, computed parents-first in one pass."""
    out: dict[int, str] = {}
    for nid in tree.preorder():
        node = tree.nodes[nid]
        out[nid] = f"{out[node.parent_id]}{sep}{node.name}" if node.parent_id is not None else node.name
    return out


def node_replacements(*, taxonomy: Taxonomy) -> dict[int, int]:
    """Deleted or merged-away label id -> the label that took its documents (followed to a label that still exists
    when it was replaced again). Read from the change history: deletes that moved documents, and merges."""
    from taxonomies.models import TaxonomyChange

    replaced: dict[int, int] = {}
    for action, details in TaxonomyChange.objects.filter(taxonomy=taxonomy, action__in=["delete", "merge"]).values_list(
        "action", "details"
    ):
        details = details or {}
        if action == "delete" and details.get("reassign_to"):
            replaced[int(details["node"])] = int(details["reassign_to"])
        elif action == "merge" and details.get("target"):
            replaced[int(details["source"])] = int(details["target"])
            for pair in details.get("children_merged") or []:
                replaced[int(pair["source"])] = int(pair["target"])
    resolved: dict[int, int] = {}
    for old in replaced:
        new, hops = replaced[old], 0
        while new in replaced and hops < len(replaced):
            new, hops = replaced[new], hops + 1
        resolved[old] = new
    return resolved
