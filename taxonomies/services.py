"""Writes to the label tree. Every change bumps the taxonomy version and records a TaxonomyChange.

A node's subtree is found by one prefix query on `path_key`, and moves rewrite the keys and depths of
the whole subtree with one UPDATE, so nothing here recurses. Documents keep their gold labels through
renames and moves (a GoldLabel names the deepest node); merges and deletes move them explicitly and
refuse to drop them. Predictions store node ids in JSON, so they need no rewrite.
"""

from __future__ import annotations

import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import CharField, F, Max, Value
from django.db.models.deletion import ProtectedError
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from corpora.labels import gold_labels_reassign
from taxonomies.models import Node, Taxonomy

MAX_TERMS = 200
MAX_TERM_CHARS = 100


@transaction.atomic
def taxonomy_create_for_project(*, project) -> Taxonomy:
    taxonomy, _ = Taxonomy.objects.get_or_create(project=project)
    return taxonomy


def taxonomy_record_change(*, taxonomy: Taxonomy, action: str, details: dict, actor) -> None:
    """Bump the version and record who changed what. Call inside the service's transaction."""
    from taxonomies.models import TaxonomyChange

    Taxonomy.objects.filter(pk=taxonomy.pk).update(version=models.F("version") + 1, updated_at=timezone.now())
    taxonomy.refresh_from_db(fields=["version"])
    TaxonomyChange.objects.create(
        taxonomy=taxonomy, version=taxonomy.version, action=action, details=details, actor=actor
    )


def name_problem(name: str) -> str | None:
    """Why `name` (already stripped) cannot be a label name, or None when it can."""
    if not name:
        return "empty label name"
    if len(name) > 255:
        return f"label name longer than 255 characters ({len(name)})"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "label name contains a line break or another control character"
    if any(unicodedata.category(ch) == "Cs" for ch in name):
        return "label name contains an unpaired surrogate (not text)"
    return None


def validate_name(name: str) -> str:
    name = (name or "").strip()
    problem = name_problem(name)
    if problem:
        raise ValidationError({"name": f"{problem[0].upper()}{problem[1:]}."})
    return name


def node_lock(node: Node) -> tuple[Node, Taxonomy]:
    """The node re-read inside the transaction, and its taxonomy row locked: edits to one tree run one at a time."""
    taxonomy = Taxonomy.objects.select_for_update().get(pk=node.taxonomy_id)
    try:
        fresh = Node.objects.get(pk=node.pk, taxonomy=taxonomy)
    except Node.DoesNotExist as exc:
        raise ValidationError("This label no longer exists.") from exc
    return fresh, taxonomy


def node_path_label(node: Node) -> str:
    ids = [int(i) for i in node.path_key.strip("/").split("/") if i]
    names = dict(Node.objects.filter(pk__in=ids).values_list("pk", "name"))
    return " > ".join(names.get(i, "?") for i in ids)


def ensure_free_name(*, taxonomy: Taxonomy, parent: Node | None, name: str, exclude: Node | None = None) -> None:
    clash = Node.objects.filter(taxonomy=taxonomy, parent=parent, name=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        where = f"under {parent.name!r}" if parent else "at the top level"
        raise ValidationError({"name": f"A label named {name!r} already exists {where}."})


def _same_taxonomy(node: Node, other: Node | None, field: str) -> Node | None:
    if other is None:
        return None
    other = Node.objects.filter(pk=other.pk).first()
    if other is None or other.taxonomy_id != node.taxonomy_id:
        raise ValidationError({field: "Choose a label of the same taxonomy."})
    return other


@transaction.atomic
def node_create(
    *,
    taxonomy: Taxonomy,
    name: str,
    parent: Node | None = None,
    actor=None,
    description: str = "",
    record: bool = True,
) -> Node:
    """Add a label under `parent` (or at the top) and return it. Sibling names are unique."""
    name = validate_name(name)
    if parent is not None and parent.taxonomy_id != taxonomy.pk:
        raise ValidationError({"parent": "The parent belongs to another taxonomy."})
    ensure_free_name(taxonomy=taxonomy, parent=parent, name=name)
    depth = (parent.depth + 1) if parent else 1
    if depth > settings.HTC_MAX_TAXONOMY_DEPTH:
        raise ValidationError({"parent": f"The taxonomy may be at most {settings.HTC_MAX_TAXONOMY_DEPTH} levels deep."})
    node = Node.objects.create(taxonomy=taxonomy, parent=parent, name=name, description=description, depth=depth)
    node.path_key = f"{parent.path_key if parent else '/'}{node.pk}/"
    node.save(update_fields=["path_key"])
    if record:
        taxonomy_record_change(
            taxonomy=taxonomy,
            action="create",
            actor=actor,
            details={"node": node.pk, "name": name, "parent": parent.pk if parent else None},
        )
    return node


@transaction.atomic
def node_ensure_path(*, taxonomy: Taxonomy, names: list[str], actor=None, record: bool = True) -> Node:
    """The node at the end of a root-to-node list of names, creating missing labels on the way.

    With `record=False` the caller records one change for its whole action (a corpus import, say).
    """
    parent = None
    for name in names:
        name = validate_name(name)
        node = Node.objects.filter(taxonomy=taxonomy, parent=parent, name=name).first()
        if node is None:
            node = node_create(taxonomy=taxonomy, name=name, parent=parent, actor=actor, record=record)
        parent = node
    if parent is None:
        raise ValidationError("An empty path names no label.")
    return parent


@transaction.atomic
def node_rename(*, node: Node, name: str, actor) -> Node:
    """Give a label a new name (unique among its siblings); returns the updated node."""
    node, taxonomy = node_lock(node)
    name = validate_name(name)
    if name == node.name:
        return node
    ensure_free_name(taxonomy=taxonomy, parent=node.parent, name=name, exclude=node)
    old = node.name
    node.name = name
    node.save(update_fields=["name"])
    taxonomy_record_change(
        taxonomy=taxonomy, action="rename", actor=actor, details={"node": node.pk, "from": old, "to": name}
    )
    return node


def _move_subtree(*, node: Node, new_parent: Node | None) -> None:
    """Re-parent `node` and rewrite path_key and depth of its whole subtree with one UPDATE."""
    old_prefix = node.path_key
    new_prefix = f"{new_parent.path_key if new_parent else '/'}{node.pk}/"
    delta = ((new_parent.depth + 1) if new_parent else 1) - node.depth
    Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=old_prefix).update(
        path_key=Concat(Value(new_prefix), Substr("path_key", len(old_prefix) + 1), output_field=CharField()),
        depth=F("depth") + delta,
    )
    Node.objects.filter(pk=node.pk).update(parent=new_parent)
    node.refresh_from_db()


def _subtree_height(node: Node) -> int:
    """Levels from `node` down to its deepest descendant (1 for a leaf)."""
    deepest = Node.objects.filter(taxonomy_id=node.taxonomy_id, path_key__startswith=node.path_key).aggregate(
        d=Max("depth")
    )["d"]
    return (deepest or node.depth) - node.depth + 1


def _check_depth(*, node: Node, new_parent: Node | None, field: str) -> None:
    new_depth = (new_parent.depth + 1) if new_parent else 1
    if new_depth + _subtree_height(node) - 1 > settings.HTC_MAX_TAXONOMY_DEPTH:
        raise ValidationError(
            {field: f"That would make the taxonomy deeper than {settings.HTC_MAX_TAXONOMY_DEPTH} levels."}
        )


@transaction.atomic
def node_move(*, node: Node, new_parent: Node | None, actor) -> Node:
    """Put a label (with its subtree) under `new_parent`, or at the top level when None; returns it.

    Refuses a move under the label itself or one of its descendants (no cycles) and a name that
    already exists at the destination. Documents stay on their labels.
    """
    node, taxonomy = node_lock(node)
    new_parent = _same_taxonomy(node, new_parent, "new_parent")
    if new_parent is not None and new_parent.path_key.startswith(node.path_key):
        raise ValidationError({"new_parent": "A label cannot move under itself or one of its descendants."})
    if node.parent_id == (new_parent.pk if new_parent else None):
        return node
    ensure_free_name(taxonomy=taxonomy, parent=new_parent, name=node.name)
    _check_depth(node=node, new_parent=new_parent, field="new_parent")
    old_parent = node.parent_id
    _move_subtree(node=node, new_parent=new_parent)
    taxonomy_record_change(
        taxonomy=taxonomy,
        action="move",
        actor=actor,
        details={
            "node": node.pk,
            "name": node.name,
            "from_parent": old_parent,
            "to_parent": new_parent.pk if new_parent else None,
            "path": node_path_label(node),
        },
    )
    return node


def chunked(ids: list[int], size: int = 500) -> list[list[int]]:
    """`ids` in slices small enough for any database's limit on query parameters."""
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def nodes_delete(ids: list[int]) -> None:
    """Delete nodes deepest first (a parent is PROTECTed while it has children), in bounded batches."""
    depth_of: dict[int, int] = {}
    for chunk in chunked(ids):
        depth_of.update(Node.objects.filter(pk__in=chunk).values_list("pk", "depth"))
    for depth in sorted(set(depth_of.values()), reverse=True):
        level = [pk for pk, d in depth_of.items() if d == depth]
        for chunk in chunked(level):
            try:
                Node.objects.filter(pk__in=chunk).delete()
            except ProtectedError as exc:
                raise ValidationError(
                    f"{len(exc.protected_objects)} records still refer to these labels; move them first."
                ) from exc


@transaction.atomic
def node_merge(*, source: Node, target: Node, actor) -> Node:
    """Fold `source` into `target` and return `target`.

    Documents labelled `source` move to `target` (one label per document). Children of `source` move
    under `target`; where `target` already has a child of the same name, the two are merged the same
    way, level by level (an explicit work list, no recursion). Terms are united. `source` is deleted.
    """
    source, taxonomy = node_lock(source)
    target = _same_taxonomy(source, target, "target")
    if target.pk == source.pk:
        raise ValidationError({"target": "A label cannot merge into itself."})
    if target.path_key.startswith(source.path_key):
        raise ValidationError({"target": "A label cannot merge into one of its own descendants."})
    _check_depth(node=source, new_parent=target.parent, field="target")
    source_path, target_path = node_path_label(source), node_path_label(target)
    # A placeholder name frees the source's name for a child of the same name moving up beside it.
    Node.objects.filter(pk=source.pk).update(name=f"\x01merging-{source.pk}")
    documents = 0
    merged: list[dict] = []
    moved: list[int] = []
    to_delete: list[int] = []
    work = [(source, target)]
    while work:
        src, tgt = work.pop()
        documents += gold_labels_reassign(from_nodes=Node.objects.filter(pk=src.pk), to_node=tgt)
        extra_terms = [t for t in src.terms if t not in tgt.terms]
        if extra_terms:
            tgt.terms = [*tgt.terms, *extra_terms]
            tgt.save(update_fields=["terms"])
        if not tgt.description and src.description:
            tgt.description = src.description
            tgt.save(update_fields=["description"])
        clashes = {n.name: n for n in Node.objects.filter(parent=tgt).exclude(pk=source.pk)}
        for child in Node.objects.filter(parent=src):
            if child.name in clashes:
                merged.append({"source": child.pk, "target": clashes[child.name].pk, "name": child.name})
                work.append((child, clashes[child.name]))
            else:
                _move_subtree(node=child, new_parent=tgt)
                moved.append(child.pk)
        to_delete.append(src.pk)
    nodes_delete(to_delete)
    taxonomy_record_change(
        taxonomy=taxonomy,
        action="merge",
        actor=actor,
        details={
            "source": source.pk,
            "source_path": source_path,
            "target": target.pk,
            "target_path": target_path,
            "documents_moved": documents,
            "children_moved": moved,
            "children_merged": merged,
        },
    )
    target.refresh_from_db()
    return target


@transaction.atomic
def node_delete(*, node: Node, actor, reassign_to: Node | None = None, cascade_children: bool = False) -> dict:
    """Delete a label; returns what happened ({"deleted": n, "documents_moved": m}).

    A label with sub-labels is deleted with them only when `cascade_children` is set. A label that
    documents use (on it or any descendant) is never silently dropped: their labels move to
    `reassign_to` (which must lie outside the deleted subtree), or the delete is refused with the counts.
    """
    from corpora.models import GoldLabel

    node, taxonomy = node_lock(node)
    subtree = Node.objects.filter(taxonomy=taxonomy, path_key__startswith=node.path_key)
    ids = list(subtree.values_list("pk", flat=True))
    descendants = len(ids) - 1
    if descendants and not cascade_children:
        raise ValidationError(
            f"{node.name!r} has {descendants} sub-label{'s' if descendants != 1 else ''}; "
            "delete them too or move them first."
        )
    documents = GoldLabel.objects.filter(node__in=subtree).values("document").distinct().count()
    reassign_to = _same_taxonomy(node, reassign_to, "reassign_to")
    if reassign_to is not None and reassign_to.path_key.startswith(node.path_key):
        raise ValidationError({"reassign_to": "Move the documents to a label outside the one being deleted."})
    if documents and reassign_to is None:
        raise ValidationError(
            f"{documents} document{'s use' if documents != 1 else ' uses'} this label or its descendants; "
            "choose where to move them."
        )
    details = {"node": node.pk, "name": node.name, "path": node_path_label(node), "deleted": len(ids)}
    moved = gold_labels_reassign(from_nodes=subtree, to_node=reassign_to) if documents else 0
    if reassign_to is not None:
        details.update(reassign_to=reassign_to.pk, reassign_path=node_path_label(reassign_to), documents_moved=moved)
    nodes_delete(ids)
    taxonomy_record_change(taxonomy=taxonomy, action="delete", actor=actor, details=details)
    return {"deleted": len(ids), "documents_moved": moved}


def clean_terms(terms: list[str] | str) -> list[str]:
    """Terms as a list of distinct, stripped strings (a string is split on commas and new lines)."""
    if isinstance(terms, str):
        terms = terms.replace("\n", ",").split(",")
    out: list[str] = []
    for term in terms:
        term = " ".join(str(term).split())
        if term and term not in out:
            if len(term) > MAX_TERM_CHARS:
                raise ValidationError({"terms": f"A term has at most {MAX_TERM_CHARS} characters."})
            out.append(term)
    if len(out) > MAX_TERMS:
        raise ValidationError({"terms": f"A label has at most {MAX_TERMS} terms."})
    return out


@transaction.atomic
def node_update_description(*, node: Node, description: str, terms: list[str] | str, actor) -> Node:
    """Set a label's description and class-indicative terms; returns the updated node."""
    node, taxonomy = node_lock(node)
    description = (description or "").strip()
    terms = clean_terms(terms)
    if description == node.description and terms == node.terms:
        return node
    if terms != node.terms:
        node.terms_source = "edited"  # a person's terms: enrichment keeps them unless asked to replace them
    node.description, node.terms = description, terms
    node.save(update_fields=["description", "terms", "terms_source"])
    taxonomy_record_change(
        taxonomy=taxonomy,
        action="edit",
        actor=actor,
        details={"node": node.pk, "name": node.name, "description": description[:200], "terms": terms[:50]},
    )
    return node
