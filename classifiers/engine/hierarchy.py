"""The one Hierarchy type every strategy, decoder and metric shares.

Nodes are addressed by their position in `self.ids` (an int index); `ids` holds the caller's keys
(database node ids in the app, names in tests). A *path* is a tuple of node indices ordered by level
(level 1 first). A valid path follows parent links from a top-level node; it may stop above the
deepest level (ragged depth). A prediction may be an invalid tuple (a child under the wrong parent):
the metrics need to see those, so nothing here forbids building one.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

Path = tuple[int, ...]


@dataclass
class Hierarchy:
    ids: list[Hashable]
    names: list[str]
    parent: list[int]  # -1 for a top-level node
    depth: list[int] = field(init=False)  # 1 for a top-level node
    children: list[list[int]] = field(init=False)
    levels: list[list[int]] = field(init=False)  # levels[d] = node indices at level d+1
    level_pos: list[int] = field(init=False)  # position of a node inside its level list
    index: dict[Hashable, int] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not (len(self.names) == len(self.parent) == n):
            raise ValueError("ids, names and parent must have the same length")
        self.index = {key: i for i, key in enumerate(self.ids)}
        if len(self.index) != n:
            raise ValueError("node ids must be unique")
        self.children = [[] for _ in range(n)]
        for i, p in enumerate(self.parent):
            if p >= n or p < -1:
                raise ValueError(f"node {self.ids[i]!r} has a parent outside the hierarchy")
            if p >= 0:
                self.children[p].append(i)
        # Depth by breadth-first walk from the roots: no recursion, and a cycle leaves nodes unreached.
        self.depth = [0] * n
        frontier = [i for i, p in enumerate(self.parent) if p == -1]
        for i in frontier:
            self.depth[i] = 1
        while frontier:
            nxt = []
            for i in frontier:
                for c in self.children[i]:
                    self.depth[c] = self.depth[i] + 1
                    nxt.append(c)
            frontier = nxt
        unreached = [self.ids[i] for i in range(n) if self.depth[i] == 0]
        if unreached:
            raise ValueError(f"nodes not reachable from a root (a cycle?): {unreached[:5]}")
        max_depth = max(self.depth, default=0)
        self.levels = [[] for _ in range(max_depth)]
        self.level_pos = [0] * n
        for i in range(n):
            lvl = self.levels[self.depth[i] - 1]
            self.level_pos[i] = len(lvl)
            lvl.append(i)

    # ----- construction -----
    @classmethod
    def from_edges(cls, nodes: Iterable[tuple[Hashable, str, Hashable | None]]) -> Hierarchy:
        """Build from (id, name, parent_id) triples, in any order."""
        rows = list(nodes)
        pos = {key: i for i, (key, _, _) in enumerate(rows)}
        parent = []
        for key, _, par in rows:
            if par is None:
                parent.append(-1)
            elif par not in pos:
                raise ValueError(f"node {key!r} names a missing parent {par!r}")
            else:
                parent.append(pos[par])
        return cls(ids=[r[0] for r in rows], names=[str(r[1]) for r in rows], parent=parent)

    @classmethod
    def from_tree(cls, tree: Sequence[dict]) -> Hierarchy:
        """Build from a nested `[{"name": ..., "children": [...]}]` list; ids are the " > "-joined paths."""
        rows: list[tuple[str, str, str | None]] = []
        stack: list[tuple[dict, str | None]] = [(item, None) for item in reversed(tree)]
        while stack:
            item, parent_key = stack.pop()
            key = item["name"] if parent_key is None else f"{parent_key} > {item['name']}"
            rows.append((key, item["name"], parent_key))
            stack.extend((child, key) for child in reversed(item.get("children") or []))
        return cls.from_edges(rows)

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> Hierarchy:
        """Build from name paths (["CS", "ML"], ...); ids are the " > "-joined paths."""
        rows: dict[str, tuple[str, str, str | None]] = {}
        for names in paths:
            parent_key = None
            for name in names:
                key = name if parent_key is None else f"{parent_key} > {name}"
                rows.setdefault(key, (key, name, parent_key))
                parent_key = key
        return cls.from_edges(rows.values())

    def to_dict(self) -> dict:
        return {"ids": list(self.ids), "names": list(self.names), "parent": list(self.parent)}

    @classmethod
    def from_dict(cls, data: dict) -> Hierarchy:
        return cls(ids=list(data["ids"]), names=list(data["names"]), parent=[int(p) for p in data["parent"]])

    # ----- queries -----
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_levels(self) -> int:
        return len(self.levels)

    def path_to(self, node: int) -> Path:
        """The root-to-node path of a node."""
        out = [node]
        while self.parent[out[-1]] != -1:
            out.append(self.parent[out[-1]])
        return tuple(reversed(out))

    def ancestors(self, node: int) -> list[int]:
        return list(self.path_to(node)[:-1])

    def is_leaf(self, node: int) -> bool:
        return not self.children[node]

    @property
    def leaves(self) -> list[int]:
        return [i for i in range(len(self.ids)) if not self.children[i]]

    def leaf_paths(self) -> list[Path]:
        """Every root-to-leaf path, in level order of the leaves."""
        return [self.path_to(leaf) for leaf in self.leaves]

    def is_valid_path(self, path: Sequence[int]) -> bool:
        """True if the path starts at a top-level node and each node is a child of the one before."""
        if not path:
            return False
        if self.parent[path[0]] != -1:
            return False
        return all(self.parent[path[k]] == path[k - 1] for k in range(1, len(path)))

    def path_from_names(self, names: Sequence[str]) -> Path | None:
        """The path for root-to-node names, or None when any step is unknown."""
        out: list[int] = []
        candidates = [i for i in range(len(self.ids)) if self.parent[i] == -1]
        for name in names:
            match = next((c for c in candidates if self.names[c] == name), None)
            if match is None:
                return None
            out.append(match)
            candidates = self.children[match]
        return tuple(out)

    def path_from_ids(self, keys: Sequence[Hashable]) -> Path:
        return tuple(self.index[k] for k in keys)

    def path_names(self, path: Sequence[int]) -> list[str]:
        return [self.names[i] for i in path]

    def path_label(self, path: Sequence[int], sep: str = " > ") -> str:
        return sep.join(self.path_names(path))


def as_multi(paths: Sequence) -> list[list[Path]]:
    """Normalise labels to a list of paths per document (accepts one path per document too)."""
    out: list[list[Path]] = []
    for item in paths:
        if item and isinstance(item[0], (list, tuple)):
            out.append([tuple(p) for p in item])
        elif item:
            out.append([tuple(item)])
        else:
            out.append([])
    return out
