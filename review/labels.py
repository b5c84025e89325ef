"""The current label of a document, derived from its three sources by one rule.

Sources (see review.models): uploaded gold (`corpora.GoldLabel`, never written by review), annotator decisions
and adjudicated decisions (`review.Correction`, `settles` for adjudicated). The rule, in order:

1. **adjudicated**: the newest current decision marked `settles` that gives a path;
2. **annotators**: otherwise, when every current decision that gives a path (one per annotator: accept, change,
   or an undo that restored an earlier decision) agrees, that path set;
3. **uploaded**: otherwise (nobody decided, only rejects, or annotators disagree: `conflict`), the uploaded gold;
4. none.

Reads only; everything here is a selector.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from corpora.models import GoldLabel
from review.models import Correction
from taxonomies.selectors import TreeIndex, taxonomy_tree

Paths = list[list[int]]

ADJUDICATED = "adjudicated"
ANNOTATORS = "annotators"
UPLOADED = "uploaded"
#: Sources whose label came from review (what "evaluate against reviewed labels" and retraining add).
REVIEWED_SOURCES = (ADJUDICATED, ANNOTATORS)
SOURCE_TEXT = {
    ADJUDICATED: "adjudicated",
    ANNOTATORS: "agreed annotators",
    UPLOADED: "uploaded gold",
    "": "no label",
}
#: GoldLabel.source of rows an earlier htc wrote over an uploaded label during review (migration review 0003).
LEGACY_OVERWRITTEN = "overwritten"


@dataclass
class CurrentLabel:
    paths: Paths
    source: str  # one of ADJUDICATED, ANNOTATORS, UPLOADED, ""
    uploaded: Paths = field(default_factory=list)
    uploaded_sources: list[str] = field(default_factory=list)
    decided_by: list[str] = field(default_factory=list)
    decisions: list[Correction] = field(default_factory=list)
    conflict: bool = False

    @property
    def source_text(self) -> str:
        return SOURCE_TEXT.get(self.source, self.source)

    @property
    def differs_from_uploaded(self) -> bool:
        return bool(self.uploaded) and self.source in REVIEWED_SOURCES and norm(self.paths) != norm(self.uploaded)

    @property
    def uploaded_overwritten(self) -> bool:
        """True when an earlier htc overwrote this uploaded label with a review decision (original lost)."""
        return LEGACY_OVERWRITTEN in self.uploaded_sources


def norm(paths: Iterable[Iterable[int]]) -> tuple:
    """A comparable form of a path set (order of paths does not matter)."""
    return tuple(sorted(tuple(int(i) for i in p) for p in paths))


def gives_label(c: Correction) -> bool:
    return bool(c.after_paths) and c.action != Correction.Action.REJECT


def uploaded_gold(*, document_ids: Iterable[int], tree: TreeIndex) -> dict[int, tuple[Paths, list[str]]]:
    """Uploaded gold paths (node ids, root first) and their GoldLabel sources, per document."""
    out: dict[int, tuple[Paths, list[str]]] = {}
    ids = list(document_ids)
    for start in range(0, len(ids), 5000):
        rows = GoldLabel.objects.filter(document_id__in=ids[start : start + 5000]).order_by("id")
        for doc_id, node_id, source in rows.values_list("document_id", "node_id", "source"):
            if node_id in tree.nodes:
                paths, sources = out.setdefault(doc_id, ([], []))
                paths.append(tree.path_ids(node_id))
                sources.append(source)
    return out


def current_labels(*, project, document_ids: Iterable[int], tree: TreeIndex | None = None) -> dict[int, CurrentLabel]:
    """The current label (with its source) of each document, by the rule in this module's docstring."""
    ids = list(dict.fromkeys(document_ids))
    tree = tree or taxonomy_tree(taxonomy=project.taxonomy)
    gold = uploaded_gold(document_ids=ids, tree=tree)
    by_doc: dict[int, list[Correction]] = {}
    for start in range(0, len(ids), 5000):
        rows = (
            Correction.objects.filter(document_id__in=ids[start : start + 5000], superseded_by__isnull=True)
            .select_related("annotator")
            .order_by("created_at", "id")
        )
        for c in rows:
            by_doc.setdefault(c.document_id, []).append(c)
    out = {}
    for doc_id in ids:
        uploaded, sources = gold.get(doc_id, ([], []))
        decisions = [c for c in by_doc.get(doc_id, []) if gives_label(c)]
        base = {"uploaded": uploaded, "uploaded_sources": sources, "decisions": decisions}
        settled = [c for c in decisions if c.settles]
        if settled:
            c = settled[-1]
            out[doc_id] = CurrentLabel(
                paths=c.after_paths, source=ADJUDICATED, decided_by=[c.annotator.username], **base
            )
            continue
        if decisions:
            if len({norm(c.after_paths) for c in decisions}) == 1:
                out[doc_id] = CurrentLabel(
                    paths=decisions[-1].after_paths,
                    source=ANNOTATORS,
                    decided_by=sorted({c.annotator.username for c in decisions}),
                    **base,
                )
                continue
            out[doc_id] = CurrentLabel(paths=uploaded, source=UPLOADED if uploaded else "", conflict=True, **base)
            continue
        out[doc_id] = CurrentLabel(paths=uploaded, source=UPLOADED if uploaded else "", **base)
    return out


def current_label(*, document, tree: TreeIndex | None = None) -> CurrentLabel:
    """The current label of one document (see current_labels)."""
    return current_labels(project=document.project, document_ids=[document.pk], tree=tree)[document.pk]


def reviewed_label_ids(*, project, document_ids: Iterable[int]) -> dict[int, list[int]]:
    """Deepest node ids of the documents whose current label comes from review (adjudicated or agreed
    annotators): what training with reviewed labels and "evaluate against reviewed labels" put in place of
    the uploaded gold. Documents without such a label are absent."""
    labels = current_labels(project=project, document_ids=document_ids)
    return {d: [p[-1] for p in lab.paths] for d, lab in labels.items() if lab.source in REVIEWED_SOURCES}


def document_review_version(*, document) -> int:
    """The document's review version: the id of its newest decision (0 when none). A submission made against
    an older version is a concurrent decision (see review.services.DecisionConflict)."""
    latest = Correction.objects.filter(document=document).order_by("-id").values_list("id", flat=True).first()
    return int(latest or 0)
