"""Reads of documents: the paginated list, one document, and the streamed export rows.

The list stays fast at 100,000+ documents: it selects only the columns it shows, cuts the text preview in SQL,
fetches one row more than a page instead of counting a text search, and names gold paths from one taxonomy load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Substr
from django.shortcuts import get_object_or_404

from corpora.models import Corpus, Document, GoldLabel, Split
from corpora.search import filter_text
from htc_app.params import id_param
from taxonomies.models import Node
from taxonomies.selectors import TreeIndex, taxonomy_tree

PAGE_SIZE = 50
PREVIEW_CHARS = 200
EXPORT_CHUNK = 1000


COUNT_CACHE_SECONDS = 30
# A label filter whose documents are at least 1/DENSE_LABEL of the project's is paged by walking the documents in
# id order and checking each one's few gold labels (a page stops after about DENSE_LABEL * PAGE_SIZE checks);
# a rarer label first collects its documents' ids (few), which a walk would look for through the whole project.
DENSE_LABEL = 20
# PostgreSQL text search: a page first looks in the next SEARCH_WINDOW documents of the id order (walking the
# index, testing each row); only when they hold less than a page does it ask the GIN index for every match. A frequent
# word (30 % of a million documents) then costs a 5,000-row walk instead of collecting and sorting 300,000 matches; a
# rare word misses the window and its few matches come from the index. SQLite's FTS5 answers both fast as it is.
SEARCH_WINDOW = 5000


@dataclass
class DocumentPage:
    rows: list[dict]
    number: int
    has_next: bool
    total: int | None  # None when counting would cost a full text scan

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def next_after(self) -> int | None:
        """The seek key of the next page (the last id shown)."""
        return self.rows[-1]["id"] if self.rows else None

    @property
    def previous_before(self) -> int | None:
        """The seek key of the previous page (the first id shown)."""
        return self.rows[0]["id"] if self.rows else None

    @property
    def start(self) -> int:
        return (self.number - 1) * PAGE_SIZE + 1 if self.rows else 0

    @property
    def end(self) -> int:
        return (self.number - 1) * PAGE_SIZE + len(self.rows)


def documents_filtered(
    *,
    project,
    q: str = "",
    node: Node | None = None,
    split: str | None = None,
    generated: bool | None = None,
    node_dense: bool = False,
) -> QuerySet[Document]:
    """The project's documents matching a text search, a node (with its descendants), a split ("none": unset)
    and, when `generated` is not None, whether an LLM wrote them. `node_dense` (same rows) says the node labels a
    large share of the documents, so each document is checked against its own gold labels (see DENSE_LABEL)."""
    qs = Document.objects.filter(project=project)
    if generated is not None:
        qs = qs.filter(generated=generated)
    if split is not None:
        qs = qs.filter(split="" if split == "none" else split)
    if node is not None:
        labelled = GoldLabel.objects.filter(
            node__taxonomy_id=node.taxonomy_id, node__path_key__startswith=node.path_key
        )
        if node_dense:
            qs = qs.filter(Exists(labelled.filter(document_id=OuterRef("pk"))))
        else:
            qs = qs.filter(pk__in=labelled.values("document_id"))
    if q:
        qs = filter_text(qs, q)
    return qs


def gold_paths_for(*, document_ids: list[int], tree: TreeIndex) -> dict[int, list[list[str]]]:
    """Each document's gold paths as lists of names (root first), from one query."""
    out: dict[int, list[list[str]]] = {pk: [] for pk in document_ids}
    pairs = GoldLabel.objects.filter(document_id__in=document_ids).order_by("id").values_list("document_id", "node_id")
    for doc_id, node_id in pairs:
        if node_id in tree.nodes:
            out[doc_id].append(tree.path_names(node_id))
    return out


def document_page(
    *,
    project,
    q: str = "",
    node: Node | None = None,
    split: str | None = None,
    generated: bool | None = None,
    page: int = 1,
    after: int | None = None,
    before: int | None = None,
) -> DocumentPage:
    """One page (PAGE_SIZE rows) of the filtered list, each row with id, external_id, split, corpus, preview,
    paths and whether it was generated.

    Pages are found by seeking on the (project, id) index: `after` (the last id of the previous page) or
    `before` (the first id of the next page); `page` is the number shown (and, without a seek key, an offset).
    The total is counted at most every COUNT_CACHE_SECONDS per filter, never for a text search."""
    page = max(1, page)
    qs = documents_filtered(project=project, q=q, node=node, split=split, generated=generated)
    total = None
    if not q:
        # The key changes with every import (largest id), corpus deletion (corpus count) and, for a label filter,
        # every new gold label; the few changes it misses (a gold label removed) show within the cache time.
        newest = Document.objects.filter(project=project).order_by("-id").values_list("id", flat=True).first()
        version = (newest, Corpus.objects.filter(project=project).count())
        if node is not None:
            version += (GoldLabel.objects.order_by("-id").values_list("id", flat=True).first(),)
        total = _cached_count(qs, ("documents", project.pk, node.pk if node else None, split, generated, *version))
        if node is not None:
            everything = _cached_count(
                Document.objects.filter(project=project), ("documents", project.pk, None, None, None, *version[:2])
            )
            if total * DENSE_LABEL >= everything:
                qs = documents_filtered(project=project, node=node, split=split, generated=generated, node_dense=True)
    rows, has_next = None, False
    if q and connection.vendor == "postgresql" and (after is not None or before is not None or page == 1):
        unsearched = documents_filtered(project=project, node=node, split=split, generated=generated)
        rows, has_next = _searched_in_window(unsearched, q, after=after, before=before)
    if rows is None:
        rows, has_next = _page_rows(qs, page=page, after=after, before=before)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    paths = gold_paths_for(document_ids=[r["id"] for r in rows], tree=tree)
    corpora = dict(Corpus.objects.filter(pk__in={r["corpus_id"] for r in rows}).values_list("pk", "name"))
    for row in rows:
        row["paths"] = paths[row["id"]]
        row["corpus"] = corpora.get(row["corpus_id"], "")
        row["truncated"] = row["length"] > PREVIEW_CHARS
        row["split_label"] = Split(row["split"]).label if row["split"] in Split.values else row["split"]
    return DocumentPage(rows=rows, number=page, has_next=has_next, total=total)


LIST_COLUMNS = ("id", "external_id", "split", "corpus_id", "preview", "length", "generated")


def _page_rows(qs: QuerySet, *, page: int, after: int | None, before: int | None) -> tuple[list[dict], bool]:
    """One page of `qs` by id: the PAGE_SIZE rows before `before`, after `after`, or at the page's offset; and
    whether a next page exists."""
    listed = qs.annotate(preview=Substr("text", 1, PREVIEW_CHARS))
    if before is not None:
        return list(listed.filter(pk__lt=before).order_by("-id").values(*LIST_COLUMNS)[:PAGE_SIZE])[::-1], True
    if after is not None:
        window = listed.filter(pk__gt=after).order_by("id").values(*LIST_COLUMNS)[: PAGE_SIZE + 1]
    else:
        offset = (page - 1) * PAGE_SIZE
        window = listed.order_by("id").values(*LIST_COLUMNS)[offset : offset + PAGE_SIZE + 1]
    rows = list(window)
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def _searched_in_window(
    unsearched: QuerySet, q: str, *, after: int | None, before: int | None
) -> tuple[list[dict] | None, bool]:
    """The search page from the SEARCH_WINDOW documents next to the seek key (see SEARCH_WINDOW), or (None, False)
    when they hold less than a page and more documents lie beyond them (then the whole search must answer)."""
    if before is not None:
        beyond = unsearched.filter(pk__lt=before).order_by("-id")
    else:
        beyond = unsearched.filter(pk__gt=after or 0).order_by("id")
    edge = list(beyond.values_list("id", flat=True)[SEARCH_WINDOW - 1 : SEARCH_WINDOW])
    window = unsearched
    if edge:
        window = window.filter(pk__gte=edge[0]) if before is not None else window.filter(pk__lte=edge[0])
    rows, has_next = _page_rows(filter_text(window, q, rowwise=True), page=1, after=after or 0, before=before)
    if edge and len(rows) < PAGE_SIZE:
        return None, False  # a short page from a window that does not reach the end: not the whole answer
    if before is None and edge and not has_next:
        has_next = bool(filter_text(unsearched.filter(pk__gt=rows[-1]["id"]), q).exists())
    return rows, has_next


def _cached_count(qs: QuerySet, key: tuple) -> int:
    """qs.count(), remembered for COUNT_CACHE_SECONDS (a list request does not count the whole table each time)."""
    name = "count:" + hashlib.sha256(repr(key).encode()).hexdigest()
    found = cache.get(name)
    if found is None:
        found = qs.count()
        cache.set(name, found, COUNT_CACHE_SECONDS)
    return found


def document_get(*, project, doc_id: int) -> tuple[Document, list[list[str]]]:
    """A document of the project (404 otherwise) with its gold paths."""
    document = get_object_or_404(Document.objects.select_related("corpus"), project=project, pk=doc_id)
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    return document, gold_paths_for(document_ids=[document.pk], tree=tree)[document.pk]


def node_of_project(*, project, node_id: int | str | None) -> Node | None:
    """The project's node with this id, or None when absent or foreign."""
    node_id = id_param(node_id)
    if node_id is None:
        return None
    return Node.objects.filter(taxonomy__project=project, pk=node_id).first()


def documents_for_export(*, project, node: Node | None, tree: TreeIndex) -> Iterator[tuple[dict, list[list[str]]]]:
    """(document fields, gold paths) in id order, read in keyset-paginated chunks (memory stays flat)."""
    qs = documents_filtered(project=project, node=node).order_by("id")
    last = 0
    while True:
        chunk = list(
            qs.filter(pk__gt=last).values("id", "external_id", "text", "split", "meta", "generated")[:EXPORT_CHUNK]
        )
        if not chunk:
            return
        paths = gold_paths_for(document_ids=[d["id"] for d in chunk], tree=tree)
        for d in chunk:
            yield d, paths[d["id"]]
        last = chunk[-1]["id"]
