"""Pass 1 of a corpus import: read the whole file and check everything, writing nothing.

`import_check` returns an `ImportPlan` (counts, the distinct label paths and where they first occur) and the
list of problems, each as "corpus.csv, line 12, field path: unknown label 'Foo > Bar'".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings

from corpora.formats import FormatError, RecordError, read_records
from corpora.formats.base import PATH_SEPARATOR, location
from corpora.models import Document
from taxonomies.selectors import TreeIndex, taxonomy_tree

MAX_LISTED_ERRORS = 50
PROGRESS_EVERY = 2000
Progress = Callable[[int, int | None], None]


class ProblemList:
    """Problems in the order found; the first MAX_LISTED_ERRORS are kept, the rest only counted."""

    def __init__(self, limit: int = MAX_LISTED_ERRORS):
        self.limit = limit
        self.items: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.items) < self.limit:
            self.items.append(message)

    def __bool__(self) -> bool:
        return self.count > 0

    def messages(self) -> list[str]:
        more = self.count - len(self.items)
        return self.items + ([f"... and {more:,} more problems."] if more else [])


@dataclass
class PathUse:
    """Where a label path first occurs and how many documents use it."""

    source: str
    line_no: int
    count: int = 0


@dataclass
class ImportPlan:
    documents: int = 0
    unsplit: int = 0
    splits: Counter = field(default_factory=Counter)
    paths: dict[tuple[str, ...], PathUse] = field(default_factory=dict)
    new_paths: list[tuple[str, ...]] = field(default_factory=list)
    problems: ProblemList = field(default_factory=ProblemList)


def label_key(name: str) -> str:
    """Names that differ only in case or spacing compare equal under this key."""
    return " ".join(name.split()).casefold()


def document_id_for(record) -> str:
    """The record's id, or `<file>:<line>` when the file gives none."""
    return record.id if record.id is not None else f"{record.source}:{record.line_no}"


def import_check(
    *,
    project,
    file_name: str,
    fileobj: BinaryIO,
    add_missing_labels: bool = False,
    progress: Progress | None = None,
) -> ImportPlan:
    """Read the file once and check encoding, structure, ids, limits and labels. Returns the plan with its problems."""
    plan = ImportPlan()
    problems = plan.problems
    seen_ids: set[str] = set()
    max_docs = settings.HTC_MAX_DOCUMENTS_PER_IMPORT
    max_chars = settings.HTC_MAX_DOCUMENT_CHARS
    try:
        for item in read_records(fileobj, file_name):
            if isinstance(item, RecordError):
                problems.add(str(item))
                continue
            where = location(item.source, item.line_no)
            if plan.documents >= max_docs:
                problems.add(f"{where}: the file has more than {max_docs:,} documents, the limit for one import")
                break
            plan.documents += 1
            if progress and plan.documents % PROGRESS_EVERY == 0:
                progress(plan.documents, None)
            if len(item.text) > max_chars:
                problems.add(f"{where}, field text: {len(item.text):,} characters; the limit is {max_chars:,}")
            doc_id = document_id_for(item)
            if len(doc_id) > 255:
                problems.add(f"{where}, field id: the id is longer than 255 characters")
            elif doc_id in seen_ids:
                problems.add(f"{where}, field id: duplicate id {doc_id!r} (already used earlier in the file)")
            seen_ids.add(doc_id)
            if len(item.paths) > 1 and not project.multi_path:
                problems.add(
                    f"{where}, field path: {len(item.paths)} paths, but this project allows one path per document"
                )
            for path in item.paths:
                use = plan.paths.get(path)
                if use is None:
                    use = plan.paths[path] = PathUse(item.source, item.line_no)
                use.count += 1
            if item.split:
                plan.splits[item.split] += 1
            else:
                plan.unsplit += 1
    except FormatError as exc:
        problems.add(str(exc))
    if not plan.documents and not problems:
        problems.add(f"{file_name}: no documents found (the file is empty, has only a header, or only blank lines)")
    _check_existing_ids(project, seen_ids, problems)
    _check_labels(project, plan, add_missing_labels)
    return plan


def _check_existing_ids(project, ids: set[str], problems: ProblemList) -> None:
    taken: list[str] = []
    batch: list[str] = []
    for doc_id in ids:
        batch.append(doc_id)
        if len(batch) == 500:
            taken += Document.objects.filter(project=project, external_id__in=batch).values_list(
                "external_id", flat=True
            )
            batch = []
    if batch:
        taken += Document.objects.filter(project=project, external_id__in=batch).values_list("external_id", flat=True)
    if taken:
        taken.sort()
        shown = ", ".join(repr(t) for t in taken[:20]) + (f" and {len(taken) - 20:,} more" if len(taken) > 20 else "")
        problems.add(f"{len(taken):,} document ids already exist in this project: {shown}")


def _check_labels(project, plan: ImportPlan, add_missing: bool) -> None:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    problems = plan.problems
    # Planned new labels by (parent, comparison key), to refuse two spellings of one new label.
    planned: dict[tuple, str] = {}
    for path, use in plan.paths.items():
        if tree.find_path(list(path)) is not None:
            continue
        where = location(use.source, use.line_no, field="path")
        more = f" (and {use.count - 1:,} more documents)" if use.count > 1 else ""
        label = PATH_SEPARATOR.join(path)
        variant = _variant_of(tree, path)
        if not add_missing:
            hint = f"; did you mean {variant!r}?" if variant else ""
            problems.add(f"{where}: unknown label {label!r}{hint}{more}")
            continue
        clash = _clash_with_existing(tree, path, planned)
        if clash:
            problems.add(f"{where}: label {label!r} differs only in case or spacing from {clash!r}{more}")
            continue
        plan.new_paths.append(path)
    new_nodes = {path[:i] for path in plan.new_paths for i in range(1, len(path) + 1)}
    new_nodes = {p for p in new_nodes if tree.find_path(list(p)) is None}
    if len(tree.nodes) + len(new_nodes) > settings.HTC_MAX_TAXONOMY_NODES:
        problems.add(f"adding {len(new_nodes):,} labels would pass the limit of {settings.HTC_MAX_TAXONOMY_NODES:,}")
    if not project.allow_internal_labels:
        _check_leaves(tree, plan)


def _variant_of(tree: TreeIndex, path: tuple[str, ...]) -> str | None:
    """The existing path that matches `path` up to case and spacing, or None."""
    parent, names = None, []
    for name in path:
        key = label_key(name)
        match = next((c for c in tree.children.get(parent, []) if label_key(tree.nodes[c].name) == key), None)
        if match is None:
            return None
        parent = match
        names.append(tree.nodes[match].name)
    return PATH_SEPARATOR.join(names)


def _clash_with_existing(tree: TreeIndex, path: tuple[str, ...], planned: dict[tuple, str]) -> str | None:
    """For a label to create: the existing or planned label it differs from only in case/spacing, or None."""
    parent: int | None = None
    new_prefix: tuple[str, ...] | None = None
    for i, name in enumerate(path):
        if new_prefix is None:
            children = tree.children.get(parent, [])
            exact = next((c for c in children if tree.nodes[c].name == name), None)
            if exact is not None:
                parent = exact
                continue
            near = next((c for c in children if label_key(tree.nodes[c].name) == label_key(name)), None)
            if near is not None:
                return PATH_SEPARATOR.join(tree.path_names(near))
            slot: tuple = ("node", parent, label_key(name))
        else:
            slot = ("new", new_prefix, label_key(name))
        spelled = planned.setdefault(slot, name)
        if spelled != name:
            return PATH_SEPARATOR.join((*path[:i], spelled))
        new_prefix = path[: i + 1]
    return None


def _check_leaves(tree: TreeIndex, plan: ImportPlan) -> None:
    """When the project wants leaf paths only: refuse paths that end at a node with children (now or after import)."""
    prefixes = {path[:i] for path in plan.paths for i in range(1, len(path))}
    for path, use in plan.paths.items():
        node_id = tree.find_path(list(path))
        internal = path in prefixes or (node_id is not None and not tree.is_leaf(node_id))
        if internal:
            where = location(use.source, use.line_no, field="path")
            plan.problems.add(
                f"{where}: {PATH_SEPARATOR.join(path)!r} is not a leaf; this project only accepts paths to leaves"
            )
