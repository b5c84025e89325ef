"""Writes to the label tree. Every change bumps the taxonomy version and records a TaxonomyChange."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction

from taxonomies.models import Node, Taxonomy


@transaction.atomic
def taxonomy_create_for_project(*, project) -> Taxonomy:
    taxonomy, _ = Taxonomy.objects.get_or_create(project=project)
    return taxonomy


def _record_change(*, taxonomy: Taxonomy, action: str, details: dict, actor) -> None:
    """Bump the version and record who changed what. Call inside the service's transaction."""
    from taxonomies.models import TaxonomyChange

    Taxonomy.objects.filter(pk=taxonomy.pk).update(version=models.F("version") + 1)
    taxonomy.refresh_from_db(fields=["version"])
    TaxonomyChange.objects.create(taxonomy=taxonomy, version=taxonomy.version, action=action, details=details, actor=actor)


def _validate_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A label needs a name."})
    if len(name) > 255:
        raise ValidationError({"name": "A label name has at most 255 characters."})
    return name


@transaction.atomic
def node_create(*, taxonomy: Taxonomy, name: str, parent: Node | None = None, actor=None, description: str = "", record: bool = True) -> Node:
    """Add a label under `parent` (or at the top). Sibling names are unique."""
    name = _validate_name(name)
    if parent is not None and parent.taxonomy_id != taxonomy.pk:
        raise ValidationError({"parent": "The parent belongs to another taxonomy."})
    if Node.objects.filter(taxonomy=taxonomy, parent=parent, name=name).exists():
        where = f"under {parent.name!r}" if parent else "at the top level"
        raise ValidationError({"name": f"A label named {name!r} already exists {where}."})
    depth = (parent.depth + 1) if parent else 1
    if depth > settings.HTC_MAX_TAXONOMY_DEPTH:
        raise ValidationError({"parent": f"The taxonomy may be at most {settings.HTC_MAX_TAXONOMY_DEPTH} levels deep."})
    node = Node.objects.create(taxonomy=taxonomy, parent=parent, name=name, description=description, depth=depth)
    node.path_key = f"{parent.path_key if parent else '/'}{node.pk}/"
    node.save(update_fields=["path_key"])
    if record:
        _record_change(
            taxonomy=taxonomy, action="create", actor=actor,
            details={"node": node.pk, "name": name, "parent": parent.pk if parent else None},
        )
    return node


@transaction.atomic
def node_ensure_path(*, taxonomy: Taxonomy, names: list[str], actor=None) -> Node:
    """The node at the end of a root-to-node list of names, creating missing labels on the way."""
    parent = None
    for name in names:
        name = _validate_name(name)
        node = Node.objects.filter(taxonomy=taxonomy, parent=parent, name=name).first()
        if node is None:
            node = node_create(taxonomy=taxonomy, name=name, parent=parent, actor=actor)
        parent = node
    if parent is None:
        raise ValidationError("An empty path names no label.")
    return parent
