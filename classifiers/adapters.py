"""Rows <-> engine, read-only: the Hierarchy of a taxonomy, gold paths, node ids <-> node indices, label texts.

Rows hold node ids; the engine works on node *indices* of a `Hierarchy`. Every conversion between the two
lives here; services, strategy hooks, selectors and the prediction loop all use it. Imports models and the
engine only (never services), so anything in the app may import it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path as FsPath

from classifiers.engine.hierarchy import Hierarchy, Path

SPLITS = ("train", "dev", "test", "all")
#: The multi-path threshold fitted at training time, beside the model (multi-path projects).
MULTIPATH_FILE = "multipath.json"


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    """`items` in consecutive slices of at most `size` (bounded `pk__in` lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def hierarchy_for_taxonomy(taxonomy) -> Hierarchy:
    """The engine Hierarchy of a taxonomy (ids are Node pks), built from one query."""
    from taxonomies.models import Node

    rows = Node.objects.filter(taxonomy=taxonomy).order_by("depth", "position", "name", "id")
    return Hierarchy.from_edges(rows.values_list("pk", "name", "parent_id"))


def gold_paths_for(documents: Sequence, hierarchy: Hierarchy, *, reviewed_project=None) -> list[list[Path]]:
    """Gold paths (node indices of `hierarchy`) per document (a Document or its id), in the order given.

    By default the uploaded gold (corpora.GoldLabel, which review never changes). With `reviewed_project`, a
    document whose current label comes from review (agreed annotators or adjudicated, review/labels.py) has that
    label instead. A label whose node is not in the hierarchy (deleted since the run was trained) is left out."""
    from corpora.models import GoldLabel

    doc_ids = [d if isinstance(d, int) else d.pk for d in documents]
    by_doc: dict[int, list[Path]] = {pk: [] for pk in doc_ids}
    reviewed: dict[int, list[int]] = {}
    if reviewed_project is not None:
        from review.labels import reviewed_label_ids

        reviewed = reviewed_label_ids(project=reviewed_project, document_ids=doc_ids)
    for chunk in chunks(doc_ids, 5000):
        for doc_id, node_id in GoldLabel.objects.filter(document_id__in=chunk).values_list("document_id", "node_id"):
            if doc_id in reviewed:
                continue
            index = hierarchy.index.get(node_id)
            if index is not None:
                by_doc[doc_id].append(hierarchy.path_to(index))
    for doc_id, node_ids in reviewed.items():
        by_doc[doc_id] = [hierarchy.path_to(hierarchy.index[n]) for n in node_ids if n in hierarchy.index]
    return [sorted(by_doc[pk]) for pk in doc_ids]


def node_ids_of(path: Sequence[int], hierarchy: Hierarchy) -> list[int]:
    """A path of node indices as a list of node ids (what Prediction rows store)."""
    return [int(hierarchy.ids[i]) for i in path]


def path_of(node_ids: Sequence[int], hierarchy: Hierarchy) -> Path | None:
    """A stored list of node ids as a path of node indices, or None when a node is unknown."""
    try:
        return tuple(hierarchy.index[n] for n in node_ids)
    except KeyError:
        return None


def documents_for(
    doc_ids: Sequence[int], hierarchy: Hierarchy, *, reviewed_project=None
) -> tuple[list[int], list[str], list[list[Path]]]:
    """Ids still present, their texts and gold paths (the reviewed labels with `reviewed_project`, see
    gold_paths_for), in the order given (documents deleted since are skipped)."""
    from corpora.models import Document

    texts: dict[int, str] = {}
    for chunk in chunks(list(doc_ids), 5000):
        texts.update(Document.objects.filter(pk__in=chunk).values_list("id", "text"))
    kept = [pk for pk in doc_ids if pk in texts]
    return kept, [texts[pk] for pk in kept], gold_paths_for(kept, hierarchy, reviewed_project=reviewed_project)


def texts_and_paths(
    doc_ids: Sequence[int], hierarchy: Hierarchy, *, reviewed_project=None
) -> tuple[list[str], list[list[Path]]]:
    """Texts and gold paths of documents in the order given (documents deleted since are skipped)."""
    _, texts, paths = documents_for(doc_ids, hierarchy, reviewed_project=reviewed_project)
    return texts, paths


def run_model_folder(run) -> FsPath:
    """A local folder holding the run's saved model (fetched from the object store and cached when needed)."""
    from htc_app.storage import model_folder_local

    return model_folder_local(run.model_dir)


def run_hierarchy(run) -> Hierarchy:
    """The hierarchy a trained run was fitted on (read from its saved config, no model loaded)."""
    from htc_app.storage import model_file_read

    config = json.loads(model_file_read(run.model_dir, "config.json"))
    return Hierarchy.from_dict(config["hierarchy"])


def corrector_class():
    """The CRF corrector class, or a clear error when the engine module is not installed."""
    try:
        from classifiers.engine.corrector import CRFCorrector
    except ImportError as exc:
        raise RuntimeError("The CRF corrector (classifiers.engine.corrector) is not available.") from exc
    return CRFCorrector


def label_text(description: str, terms: list[str] | None, max_terms: int = 20) -> str:
    """A node's label text: its description and terms ("desc; t1, t2"), or "" when it has neither."""
    text = (description or "").strip()
    words = ", ".join(str(t) for t in (terms or [])[:max_terms] if str(t).strip())
    return f"{text}; {words}" if text and words else text or words


def label_texts_for(hierarchy: Hierarchy, *, machine_terms: bool = True) -> dict[int, str]:
    """Node index -> label text (description and terms) for the nodes of `hierarchy` that have one: what every
    strategy gets as label descriptions (zero-shot label texts, LLM prompt descriptions, verbalizer init).

    `machine_terms=False` leaves out terms an earlier enrichment found (so a new enrichment starts from
    what people gave, not from its own earlier output)."""
    from taxonomies.models import Node
    from taxonomies.terms import MACHINE_TERM_SOURCES

    out: dict[int, str] = {}
    ids = [i for i in hierarchy.ids if isinstance(i, int)]
    for chunk in chunks(ids, 5000):
        rows = Node.objects.filter(pk__in=chunk).values_list("pk", "description", "terms", "terms_source")
        for pk, description, terms, source in rows:
            if not machine_terms and source in MACHINE_TERM_SOURCES:
                terms = []
            text = label_text(description, terms)
            if text and pk in hierarchy.index:
                out[hierarchy.index[pk]] = text
    return out


def json_number(value):
    """`json.dumps` default for numpy numbers (and anything else: its string)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
