"""A corpus import in one streaming pass: every record is read, checked and written once, in one transaction.

`StreamingImport.run()` reads the file record by record. Valid records are buffered and written in bulk
(`corpora.bulk`); the first problem stops the writing, reading goes on to list every problem (file, line, field),
and the caller's transaction is rolled back by the ValidationError raised at the end, so a bad line anywhere
leaves nothing behind. Label paths are resolved once per distinct path; new labels ("add missing labels") are
created on first use inside the same transaction.

Memory stays flat in the number of documents: ids already used in the file are remembered in a fixed-size
Bloom filter and a hit is confirmed exactly (the current batch, or one indexed query on the rows written so far).
"""

from __future__ import annotations

import re
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError

from corpora.bulk import DocumentWriter, max_query_params, set_splits
from corpora.formats import FormatError, RecordError, read_records
from corpora.formats.base import PATH_SEPARATOR, location
from corpora.models import Document, Split
from taxonomies.models import Node
from taxonomies.selectors import TreeIndex

MAX_LISTED_ERRORS = 20
MAX_MESSAGE_CHARS = 300
PROGRESS_EVERY = 2000
BATCH_MAX_ROWS = 5000
Progress = Callable[[int, int | None], None]
SPLIT_CODES = {0: Split.TRAIN, 1: Split.DEV, 2: Split.TEST}

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(r"\d[\d,.]*")


def shorten(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message` cut at a word boundary to at most `limit` characters, marked with an ellipsis when cut."""
    if len(message) <= limit:
        return message
    cut = message[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:") + "…"


def problem_kind(message: str, field_name: str = "") -> str:
    """What a problem is, without its particulars: quoted values and numbers become '…' and N."""
    text = _NUMBER.sub("N", _QUOTED.sub("'…'", message))
    return f"field {field_name}: {text}" if field_name else text


class ProblemList:
    """Problems in the order found: the first `limit` are listed, all are counted per kind."""

    def __init__(self, limit: int = MAX_LISTED_ERRORS):
        self.limit = limit
        self.items: list[str] = []
        self.count = 0
        self.kinds: Counter = Counter()

    def add(self, message: str, kind: str | None = None) -> None:
        self.count += 1
        self.kinds[kind or problem_kind(message.split(": ", 1)[-1])] += 1
        if len(self.items) < self.limit:
            self.items.append(shorten(message))

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self) -> list[str]:
        """Totals per kind (most frequent first), one line each; empty when every problem is listed."""
        if self.count <= len(self.items):
            return []
        lines = [f"{self.count:,} problems in all, by kind:"]
        lines += [f"{n:,} × {shorten(kind, 200)}" for kind, n in self.kinds.most_common(20)]
        if len(self.kinds) > 20:
            lines.append(f"and {len(self.kinds) - 20:,} other kinds")
        return lines

    def messages(self) -> list[str]:
        more = self.count - len(self.items)
        listed = self.items + ([f"... and {more:,} more problems."] if more else [])
        return listed + self.summary()


def problems_text(messages: list[str], budget: int = 1900) -> str:
    """Messages as lines within `budget` characters, whole lines only; the totals (last) are kept first."""
    split_at = next((i for i, m in enumerate(messages) if m.endswith("problems in all, by kind:")), len(messages))
    head, listed = messages[split_at:], messages[:split_at]
    lines: list[str] = []
    used = sum(len(m) + 1 for m in head)
    for i, message in enumerate(listed):
        if used + len(message) + 1 > budget - 40:  # room for the closing "... and N more" line
            lines.append(f"... and {len(listed) - i:,} more listed problems.")
            break
        lines.append(message)
        used += len(message) + 1
    return "\n".join(head + lines)


@dataclass
class PathUse:
    """Where a label path first occurs, how many documents use it, and its node (None while unknown)."""

    source: str
    line_no: int
    count: int = 0
    node_id: int | None = None
    problem: str = ""  # "unknown" or the clashing label


def label_key(name: str) -> str:
    """Names that differ only in case or spacing compare equal under this key."""
    return " ".join(name.split()).casefold()


def document_id_for(record) -> str:
    """The record's id, or `<file>:<line>` when the file gives none."""
    return record.id if record.id is not None else f"{record.source}:{record.line_no}"


class IdFilter:
    """A Bloom filter over document ids (fixed size, two probes from Python's string hash): `maybe_seen`."""

    BITS = 1 << 26  # 8 MiB; at 1M ids about 0.1 % false hits, each confirmed by one indexed lookup

    def __init__(self) -> None:
        self.bits = bytearray(self.BITS >> 3)
        self.mask = self.BITS - 1

    def add_and_check(self, value: str) -> bool:
        """Add `value`; True when it may have been added before."""
        h = hash(value)
        a = h & self.mask
        b = (h >> 32) & self.mask
        bits = self.bits
        seen = bits[a >> 3] >> (a & 7) & 1 and bits[b >> 3] >> (b & 7) & 1
        bits[a >> 3] |= 1 << (a & 7)
        bits[b >> 3] |= 1 << (b & 7)
        return bool(seen)


@dataclass
class ImportResult:
    documents: int = 0
    splits: Counter = field(default_factory=Counter)
    labels_created: int = 0


class StreamingImport:
    """One pass over a file: check each record, resolve its paths, buffer it, write batches in bulk."""

    def __init__(
        self,
        *,
        project,
        taxonomy,
        tree: TreeIndex,
        corpus,
        actor,
        add_missing_labels: bool,
        codes_for: Callable[[int], bytearray | None],
        random_split: bool,
        progress: Progress | None,
        split_map: dict[str, str] | None = None,
    ):
        self.project = project
        self.taxonomy = taxonomy
        self.tree = tree
        self.corpus = corpus
        self.actor = actor
        self.add_missing = add_missing_labels
        self.codes_for = codes_for
        self.progress = progress
        self.split_map = split_map
        self.problems = ProblemList()
        self.writing = True  # until the first problem
        self.writer = DocumentWriter(project_id=project.pk, corpus_id=corpus.pk)
        self.ids = IdFilter()
        self.unwritten: set[str] = set()  # ids read once writing stopped (exact duplicate checks from then on)
        self.batch: list[tuple] = []
        self.batch_ids: dict[str, None] = {}
        self.to_check: list[str] = []  # ids to look up among the project's existing documents
        self.check_existing = Document.objects.filter(project=project).exists()
        self.taken: list[str] = []
        self.taken_count = 0
        self.param_limit = max_query_params()
        self.batch_rows = min(BATCH_MAX_ROWS, max(100, self.param_limit // 9))
        self.paths: dict[tuple[str, ...], PathUse] = {}
        self.planned: dict[tuple, str] = {}  # new labels by (parent slot, comparison key), first spelling
        self.new_paths: list[tuple[str, ...]] = []
        self.created: dict[tuple[str, ...], Node] = {}  # prefix -> the label this import created for it
        self.result = ImportResult()
        # Ids of the written documents whose file gives no split, in file order (only kept for a random split).
        self.random_split = random_split
        self.unsplit_ids = array("q")
        self.unsplit = 0
        self.read = 0

    # Problems ---------------------------------------------------------------------------------------------
    def _problem(self, message: str, kind: str | None = None) -> None:
        self.problems.add(message, kind)
        self._stop_writing()

    def _stop_writing(self) -> None:
        if self.writing:
            self.writing = False
            self.unwritten.update(self.batch_ids)
            self.batch = []
            self.batch_ids = {}

    # The pass ---------------------------------------------------------------------------------------------
    def run(self, fileobj: BinaryIO, file_name: str) -> ImportResult:
        max_docs = settings.HTC_MAX_DOCUMENTS_PER_IMPORT
        max_chars = settings.HTC_MAX_DOCUMENT_CHARS
        multi_path = self.project.multi_path
        try:
            for item in read_records(fileobj, file_name, split_map=self.split_map):
                if isinstance(item, RecordError):
                    self._problem(str(item), problem_kind(item.message, item.field))
                    continue
                if self.read >= max_docs:
                    where = location(item.source, item.line_no)
                    self._problem(f"{where}: the file has more than {max_docs:,} documents, the limit for one import")
                    break
                self.read += 1
                ok = True
                if len(item.text) > max_chars:
                    where = location(item.source, item.line_no, field="text")
                    self._problem(f"{where}: {len(item.text):,} characters; the limit is {max_chars:,}")
                    ok = False
                doc_id = document_id_for(item)
                if len(doc_id) > 255:
                    self._problem(
                        f"{location(item.source, item.line_no, field='id')}: the id is longer than 255 characters"
                    )
                    ok = False
                elif self._seen_before(doc_id):
                    where = location(item.source, item.line_no, field="id")
                    self._problem(f"{where}: duplicate id {doc_id!r} (already used earlier in the file)")
                    ok = False
                paths = item.paths
                if len(paths) > 1 and not multi_path:
                    where = location(item.source, item.line_no, field="path")
                    self._problem(f"{where}: {len(paths)} paths, but this project allows one path per document")
                    ok = False
                node_ids = tuple(self._node_for(path, item.source, item.line_no) for path in paths)
                if not item.split:
                    self.unsplit += 1
                if self.check_existing and len(doc_id) <= 255:
                    self.to_check.append(doc_id)
                    if len(self.to_check) >= self.param_limit - 1:
                        self._check_taken()
                if not self.writing or not ok or None in node_ids:
                    self._stop_writing()
                    self.unwritten.add(doc_id)
                    continue
                self.batch.append((doc_id, item.text, item.split, item.meta, node_ids))
                self.batch_ids[doc_id] = None
                if len(self.batch) >= self.batch_rows:
                    self._flush()
                if self.progress and self.read % PROGRESS_EVERY == 0:
                    self.progress(self.read, None)
        except FormatError as exc:
            self._problem(str(exc))
        if not self.read and not self.problems:
            self.problems.add(
                f"{file_name}: no documents found (the file is empty, has only a header, or only blank lines)"
            )
        self._check_taken()
        self._flush()
        self._label_problems()
        if self.problems:
            raise ValidationError(self.problems.messages())
        if not self.writing:  # never expected: writing stops only on a problem, and every problem is reported
            raise RuntimeError("The import stopped writing without a reported problem; nothing was imported.")
        self._assign_splits()
        self.result.labels_created = len(self.created)
        if self.progress:
            self.progress(self.result.documents, self.result.documents)
        return self.result

    def _seen_before(self, doc_id: str) -> bool:
        if not self.ids.add_and_check(doc_id):
            if not self.writing:
                self.unwritten.add(doc_id)
            return False
        if doc_id in self.batch_ids or doc_id in self.unwritten:
            return True
        # A rare filter hit (a true repeat or a false positive): ask the rows this import wrote, by the unique
        # (project, external_id) index. By corpus alone a lookup read every row written so far: a million ids
        # give a few hundred false hits, and the 1M import ran 2.2x (PostgreSQL) / 1.4x (SQLite) slower.
        return Document.objects.filter(project=self.project, external_id=doc_id, corpus=self.corpus).exists()

    def _check_taken(self) -> None:
        """Look up buffered ids among the project's documents from before this import (one query a chunk)."""
        if not self.to_check:
            return
        ids, self.to_check = self.to_check, []
        found = list(
            Document.objects.filter(project=self.project, external_id__in=ids)
            .exclude(corpus=self.corpus)
            .values_list("external_id", flat=True)
        )
        if found:
            self.taken_count += len(found)
            self.taken = sorted(self.taken + found)[:20]
            self._stop_writing()

    def _flush(self) -> None:
        if not self.batch or not self.writing:
            return
        # Ids of this batch that already exist in the project stop the import before they are written.
        self._check_taken()
        if not self.writing:
            return
        rows, self.batch, self.batch_ids = self.batch, [], {}
        ids = self.writer.write(rows)
        self.result.documents += len(rows)
        for pk, row in zip(ids, rows, strict=True):
            if row[2]:
                self.result.splits[row[2]] += 1
            elif self.random_split:
                self.unsplit_ids.append(pk)
            else:
                self.result.splits["unassigned"] += 1

    # Labels -----------------------------------------------------------------------------------------------
    def _node_for(self, path: tuple[str, ...], source: str, line_no: int) -> int | None:
        use = self.paths.get(path)
        if use is None:
            use = self.paths[path] = PathUse(source, line_no)
            use.node_id = self.tree.find_path(list(path))
            if use.node_id is None:
                self._new_label(path, use)
        use.count += 1
        return use.node_id

    def _new_label(self, path: tuple[str, ...], use: PathUse) -> None:
        if not self.add_missing:
            use.problem = "unknown"
            self._stop_writing()
            return
        clash = self._clash_with_existing(path)
        if clash:
            use.problem = clash
            self._stop_writing()
            return
        self.new_paths.append(path)
        if self.writing and not self._over_node_limit(path):
            use.node_id = self._create(path)

    def _new_prefixes(self, path: tuple[str, ...]) -> int:
        """How many labels creating `path` would add (prefixes neither in the taxonomy nor created already)."""
        return sum(
            1
            for i in range(1, len(path) + 1)
            if path[:i] not in self.created and self.tree.find_path(list(path[:i])) is None
        )

    def _over_node_limit(self, path: tuple[str, ...]) -> bool:
        total = len(self.tree.nodes) + len(self.created) + self._new_prefixes(path)
        return total > settings.HTC_MAX_TAXONOMY_NODES

    def _create(self, path: tuple[str, ...]) -> int:
        from taxonomies.services import node_create

        parent = None
        for i in range(len(path)):
            prefix = path[: i + 1]
            node = self.created.get(prefix)
            if node is None:
                found = self.tree.find_path(list(prefix))
                if found is not None:
                    node = self.tree.nodes[found]
                else:
                    node = self.created[prefix] = node_create(
                        taxonomy=self.taxonomy, name=prefix[-1], parent=parent, actor=self.actor, record=False
                    )
            parent = node
        return parent.pk

    def _clash_with_existing(self, path: tuple[str, ...]) -> str | None:
        """For a label to create: the existing or planned label it differs from only in case/spacing, or None."""
        tree = self.tree
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
            spelled = self.planned.setdefault(slot, name)
            if spelled != name:
                return PATH_SEPARATOR.join((*path[:i], spelled))
            new_prefix = path[: i + 1]
        return None

    def _label_problems(self) -> None:
        """Unknown and clashing labels (in order of first use, with counts), the size limit, leaf-only paths."""
        existing = self.taken_count
        if existing:
            shown = ", ".join(repr(t) for t in self.taken) + (f" and {existing - 20:,} more" if existing > 20 else "")
            self.problems.add(f"{existing:,} document ids already exist in this project: {shown}")
        for path, use in self.paths.items():
            if not use.problem:
                continue
            where = location(use.source, use.line_no, field="path")
            more = f" (and {use.count - 1:,} more documents)" if use.count > 1 else ""
            label = PATH_SEPARATOR.join(path)
            if use.problem == "unknown":
                variant = _variant_of(self.tree, path)
                hint = f"; did you mean {variant!r}?" if variant else ""
                self.problems.add(f"{where}: unknown label {label!r}{hint}{more}", "field path: unknown label")
            else:
                self.problems.add(
                    f"{where}: label {label!r} differs only in case or spacing from {use.problem!r}{more}",
                    "field path: label differs only in case or spacing from an existing one",
                )
        new_nodes = {p[:i] for p in self.new_paths for i in range(1, len(p) + 1)}
        new_nodes = {p for p in new_nodes if self.tree.find_path(list(p)) is None}
        if len(self.tree.nodes) + len(new_nodes) > settings.HTC_MAX_TAXONOMY_NODES:
            self.problems.add(
                f"adding {len(new_nodes):,} labels would pass the limit of {settings.HTC_MAX_TAXONOMY_NODES:,}"
            )
        if not self.project.allow_internal_labels:
            self._check_leaves()

    def _check_leaves(self) -> None:
        """When the project wants leaf paths only: refuse paths that end at a node with children (now or after)."""
        prefixes = {path[:i] for path in self.paths for i in range(1, len(path))}
        for path, use in self.paths.items():
            node_id = self.tree.find_path(list(path))
            if path in prefixes or (node_id is not None and not self.tree.is_leaf(node_id)):
                where = location(use.source, use.line_no, field="path")
                self.problems.add(
                    f"{where}: {PATH_SEPARATOR.join(path)!r} is not a leaf; this project only accepts paths to leaves",
                    "field path: not a leaf; this project only accepts paths to leaves",
                )

    # Splits -----------------------------------------------------------------------------------------------
    def _assign_splits(self) -> None:
        """Documents whose file gives no split: the seeded random split over all of them (exact counts)."""
        if not self.random_split:
            return
        codes = self.codes_for(len(self.unsplit_ids))
        by_split: dict[str, list[int]] = {}
        for pk, code in zip(self.unsplit_ids, codes, strict=True):
            split = SPLIT_CODES[code]
            self.result.splits[str(split)] += 1
            if split != Split.NONE:
                by_split.setdefault(str(split), []).append(pk)
        set_splits(by_split)


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
