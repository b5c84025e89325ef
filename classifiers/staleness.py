"""Predictions whose labels moved or were deleted since the run: which ones, and the path they stand for now.

A prediction stores node ids as the model answered them. When a label is moved afterwards, the stored path no
longer follows parent links; when it is deleted (its documents reassigned) or merged away, an id is gone. Such a
prediction is "stale": the run page lists it and review accepts it in one step as the path its label has now
(the leaf's current ancestors, or the label that took over a deleted one).
"""

from __future__ import annotations

from dataclasses import dataclass

from classifiers.models import Prediction, Run
from taxonomies.models import Taxonomy
from taxonomies.selectors import TreeIndex, node_replacements, taxonomy_tree

MOVED = "moved"
DELETED = "deleted"


@dataclass(frozen=True)
class Staleness:
    reason: str  # MOVED or DELETED
    current_paths: list[list[int]] | None  # what the prediction stands for now (None: its label has no heir)


def prediction_staleness(paths: list[list[int]], tree: TreeIndex, replacements: dict[int, int]) -> Staleness | None:
    """None when every predicted path still reads the same in today's tree, else why and its current paths."""
    reason = ""
    current: list[list[int]] | None = []
    for path in paths:
        if not path:
            continue
        leaf = int(path[-1])
        if leaf not in tree.nodes:
            reason = DELETED
            heir = replacements.get(leaf)
            if heir is None or heir not in tree.nodes:
                current = None
                continue
            leaf = heir
        now = tree.path_ids(leaf)
        if now != [int(i) for i in path]:
            reason = reason or (DELETED if any(int(i) not in tree.nodes for i in path) else MOVED)
        if current is not None and now not in current:
            current.append(now)
    return Staleness(reason, current) if reason else None


def run_stale_predictions(*, run: Run, limit: int | None = None) -> tuple[int, list[tuple[Prediction, Staleness]]]:
    """(how many of the run's predictions are stale, the first `limit` of them with their staleness)."""
    taxonomy = Taxonomy.objects.get(project_id=run.project_id)  # fresh: the version may have moved on
    if run.taxonomy_version == taxonomy.version:
        return 0, []  # the tree has not changed since the run
    tree = taxonomy_tree(taxonomy=taxonomy)
    replacements = node_replacements(taxonomy=taxonomy)
    count, found = 0, []
    # Only paths that were valid when predicted: an inconsistent answer is the model's fault, not a later edit's.
    rows = Prediction.objects.filter(run=run, consistent=True).exclude(paths=[]).order_by("document_id")
    for prediction in rows.only("id", "paths", "document_id").iterator(chunk_size=2000):
        stale = prediction_staleness(prediction.paths, tree, replacements)
        if stale is not None:
            count += 1
            if limit is None or len(found) < limit:
                found.append((prediction, stale))
    return count, found


def prediction_current_paths(*, prediction: Prediction) -> Staleness | None:
    """The staleness of one prediction against today's tree (None when it still reads the same)."""
    if not prediction.consistent:
        return None
    taxonomy = Taxonomy.objects.get(project_id=prediction.run.project_id)
    return prediction_staleness(
        prediction.paths, taxonomy_tree(taxonomy=taxonomy), node_replacements(taxonomy=taxonomy)
    )
