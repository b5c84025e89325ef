"""Taxonomy import and export.

An import reads the whole file, validates everything (encoding, structure, names, duplicate siblings,
depth and size limits) and raises one ValidationError naming every problem by line; only then does it
write, in one transaction: new labels level by level with bulk_create, then their path keys with one
UPDATE per level. One import is one taxonomy version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Cast, Concat

from taxonomies.formats import ExportNode, ParsedNode, Problem, extensions, format_for_filename, get_format
from taxonomies.models import Node, Taxonomy

MAX_REPORTED_PROBLEMS = 100
MODES = ("merge", "replace")
# A 200,000-label taxonomy is a few MB in any format; anything far larger is not a taxonomy.
MAX_FILE_BYTES = 64 * 2**20

Path = tuple[str, ...]


@dataclass
class ImportSummary:
    """What an import did."""

    format: str
    labels_in_file: int
    created: int = 0
    reused: int = 0
    updated: int = 0
    deleted: int = 0
    version: int = 0


def decode_upload(data: bytes | str, file_name: str) -> str:
    """The text of an upload: UTF-8 with or without BOM. Raises ValidationError naming undecodable byte offsets."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    bad: list[int] = []
    pos = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while len(bad) < 10:
        try:
            data[pos:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            bad.append(pos + exc.start)
            pos += exc.end
    newline = b"\n"
    messages = [
        f"{file_name}, line {data.count(newline, 0, offset) + 1}: byte {offset} is not valid UTF-8" for offset in bad
    ]
    messages.append(f"{file_name}: save the file as UTF-8 and upload it again.")
    raise ValidationError(messages)


def _where(file_name: str, line: int | None) -> str:
    return f"{file_name}, line {line}" if line else file_name


def _validate(parsed: list[ParsedNode], problems: list[Problem]) -> dict[Path, int]:
    """Check names, duplicates and depth; add problems; return every path (with implicit ancestors) -> first line."""
    from taxonomies.services import name_problem

    max_depth = settings.HTC_MAX_TAXONOMY_DEPTH
    explicit: dict[Path, int] = {}
    paths: dict[Path, int] = {}
    for node in parsed:
        bad = next(((i, p) for i, name in enumerate(node.path) if (p := name_problem(name))), None)
        if bad is not None:
            level, problem = bad
            problems.append(Problem(node.line, f"{problem} at level {level + 1}" if len(node.path) > 1 else problem))
            continue
        if len(node.path) > max_depth:
            problems.append(
                Problem(node.line, f"label {node.path[-1]!r} is at depth {len(node.path)}; the limit is {max_depth}")
            )
            continue
        if node.path in explicit:
            parent = " > ".join(node.path[:-1])
            where = f"under {parent!r}" if parent else "at the top level"
            problems.append(
                Problem(
                    node.line,
                    f"duplicate label {node.path[-1]!r} {where} (first on line {explicit[node.path]})",
                )
            )
            continue
        explicit[node.path] = node.line
        for end in range(1, len(node.path) + 1):
            paths.setdefault(node.path[:end], node.line)
    return paths


def _existing_paths(taxonomy: Taxonomy) -> dict[Path, tuple[int, int]]:
    """Every existing label's path of names -> (id, position), computed parents-first without recursion."""
    rows = (
        Node.objects.filter(taxonomy=taxonomy)
        .order_by("depth", "id")
        .values_list("pk", "parent_id", "name", "position")
    )
    by_id: dict[int, Path] = {}
    out: dict[Path, tuple[int, int]] = {}
    for pk, parent_id, name, position in rows:
        path = (*by_id.get(parent_id, ()), name) if parent_id else (name,)
        by_id[pk] = path
        out[path] = (pk, position)
    return out


def _raise(file_name: str, problems: list[Problem]) -> None:
    problems = sorted(problems, key=lambda p: p.line or 0)
    messages = [f"{_where(file_name, p.line)}: {p.message}" for p in problems[:MAX_REPORTED_PROBLEMS]]
    if len(problems) > MAX_REPORTED_PROBLEMS:
        messages.append(f"{file_name}: … and {len(problems) - MAX_REPORTED_PROBLEMS} more problems.")
    raise ValidationError(messages)


@transaction.atomic
def taxonomy_import(
    *,
    taxonomy: Taxonomy,
    file_name: str,
    data: bytes | str,
    actor,
    mode: str = "merge",
    fmt: str | None = None,
) -> ImportSummary:
    """Import a taxonomy file all-or-nothing and return an ImportSummary.

    `fmt` names a registered format; by default the file name's extension chooses. In "merge" mode
    labels with the same path as an existing label are reused (a description in the file updates
    theirs); in "replace" mode existing labels the file does not name are deleted, which is refused
    when documents use them. Raises ValidationError listing every problem with its line.
    """
    from corpora.models import GoldLabel
    from taxonomies.services import chunked, clean_terms, nodes_delete, taxonomy_record_change

    file_name = file_name or "taxonomy"
    if mode not in MODES:
        raise ValidationError(f"Unknown import mode {mode!r}; use merge or replace.")
    try:
        format_ = get_format(fmt) if fmt else format_for_filename(file_name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if format_ is None:
        raise ValidationError(f"{file_name}: unknown file type; use one of {', '.join(extensions())}.")
    if len(data) > MAX_FILE_BYTES:
        raise ValidationError(f"{file_name}: the file is larger than {MAX_FILE_BYTES // 2**20} MB.")
    text = decode_upload(data, file_name)

    parsed: list[ParsedNode] = []
    problems: list[Problem] = []
    for item in format_.read(text):
        (parsed if isinstance(item, ParsedNode) else problems).append(item)
    paths = _validate(parsed, problems)
    if not paths and not problems:
        problems.append(Problem(None, "the file names no labels"))
    terms_of: dict[Path, list[str]] = {}
    for node in parsed:
        if node.terms and node.path in paths:
            try:
                terms_of[node.path] = clean_terms(list(node.terms))
            except ValidationError as exc:
                problems.append(Problem(node.line, exc.messages[0]))
    if problems:
        _raise(file_name, problems)

    given, taxonomy = taxonomy, Taxonomy.objects.select_for_update().get(pk=taxonomy.pk)
    existing = _existing_paths(taxonomy)
    total = len(paths) if mode == "replace" else len(existing.keys() | paths.keys())
    if total > settings.HTC_MAX_TAXONOMY_NODES:
        _raise(
            file_name,
            [Problem(None, f"the taxonomy would have {total} labels; the limit is {settings.HTC_MAX_TAXONOMY_NODES}")],
        )
    stale = [pk for path, (pk, _) in existing.items() if path not in paths] if mode == "replace" else []
    if stale:
        used = len(
            {
                doc
                for chunk in chunked(stale)
                for doc in GoldLabel.objects.filter(node_id__in=chunk).values_list("document_id", flat=True)
            }
        )
        if used:
            _raise(
                file_name,
                [
                    Problem(
                        None,
                        f"replacing would delete {len(stale)} labels that {used} documents use; "
                        "import in merge mode, or move those documents first",
                    )
                ],
            )

    summary = ImportSummary(format=format_.name, labels_in_file=len(paths), deleted=len(stale))
    if stale:
        nodes_delete(stale)
    descriptions = {n.path: n.description for n in parsed if n.description is not None and n.path in paths}
    summary.updated = _update_existing(existing, descriptions, terms_of)
    summary.reused = len(paths.keys() & existing.keys())
    _create_new(taxonomy, paths, existing, descriptions, terms_of, summary)

    taxonomy_record_change(
        taxonomy=taxonomy,
        action="import",
        actor=actor,
        details={
            "file": file_name[:255],
            "format": format_.name,
            "mode": mode,
            "created": summary.created,
            "reused": summary.reused,
            "updated": summary.updated,
            "deleted": summary.deleted,
        },
    )
    summary.version = given.version = taxonomy.version
    return summary


def _update_existing(existing, descriptions, terms_of) -> int:
    """Apply the file's descriptions and terms to labels that already exist; returns how many changed."""
    changed = []
    from taxonomies.services import chunked

    ids = {existing[p][0]: p for p in (descriptions.keys() | terms_of.keys()) if p in existing}
    nodes = [node for chunk in chunked(list(ids)) for node in Node.objects.filter(pk__in=chunk)]
    for node in nodes:
        path = ids[node.pk]
        description = descriptions.get(path, node.description)
        terms = terms_of.get(path, node.terms)
        if (description, terms) != (node.description, node.terms):
            node.description, node.terms = description, terms
            changed.append(node)
    Node.objects.bulk_update(changed, ["description", "terms"], batch_size=500)
    return len(changed)


def _create_new(taxonomy, paths, existing, descriptions, terms_of, summary: ImportSummary) -> None:
    """Create missing labels level by level; siblings keep the file's order after existing ones."""
    ids: dict[Path, int] = {path: pk for path, (pk, _) in existing.items()}
    next_position: dict[Path, int] = {}
    for path, (_, position) in existing.items():
        parent = path[:-1]
        next_position[parent] = max(next_position.get(parent, 0), position + 1)
    new_by_depth: dict[int, list[Path]] = {}
    for path in paths:  # file order
        if path not in ids:
            new_by_depth.setdefault(len(path), []).append(path)
    for depth in sorted(new_by_depth):
        objs = []
        for path in new_by_depth[depth]:
            parent = path[:-1]
            position = next_position.get(parent, 0)
            next_position[parent] = position + 1
            objs.append(
                Node(
                    taxonomy=taxonomy,
                    parent_id=ids[parent] if parent else None,
                    name=path[-1],
                    depth=depth,
                    position=position,
                    path_key="",
                    description=descriptions.get(path) or "",
                    terms=terms_of.get(path, []),
                )
            )
        Node.objects.bulk_create(objs, batch_size=500)
        if any(o.pk is None for o in objs):  # a backend without RETURNING: read the ids back
            rows = Node.objects.filter(taxonomy=taxonomy, depth=depth, path_key="")
            fresh = {(p, n): k for p, n, k in rows.values_list("parent_id", "name", "pk")}
            for o in objs:
                o.pk = fresh[(o.parent_id, o.name)]
        for path, obj in zip(new_by_depth[depth], objs, strict=True):
            ids[path] = obj.pk
        _fill_path_keys(taxonomy, depth)
        summary.created += len(objs)


def _fill_path_keys(taxonomy: Taxonomy, depth: int) -> None:
    """Set path_key of the new labels at `depth` from their parents' keys, in one UPDATE."""
    new = Node.objects.filter(taxonomy=taxonomy, depth=depth, path_key="")
    id_text = Cast("id", output_field=CharField())
    if depth == 1:
        new.update(path_key=Concat(Value("/"), id_text, Value("/"), output_field=CharField()))
        return
    parent_key = Subquery(Node.objects.filter(pk=OuterRef("parent_id")).values("path_key")[:1])
    new.update(path_key=Concat(parent_key, id_text, Value("/"), output_field=CharField()))


def taxonomy_export(*, taxonomy: Taxonomy, fmt: str) -> tuple[bytes, str, str]:
    """The taxonomy in format `fmt` (json, csv, txt) as (content, content type, file name)."""
    from taxonomies.selectors import taxonomy_tree

    try:
        format_ = get_format(fmt)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    tree = taxonomy_tree(taxonomy=taxonomy)
    path_of: dict[int, Path] = {}
    rows: list[ExportNode] = []
    for nid in tree.preorder():  # parents before children
        node = tree.nodes[nid]
        path = (*path_of[node.parent_id], node.name) if node.parent_id else (node.name,)
        path_of[nid] = path
        rows.append(ExportNode(path=path, description=node.description, terms=tuple(node.terms or ())))
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", taxonomy.project.name).strip("-") or "taxonomy"
    filename = f"{slug}-taxonomy-v{taxonomy.version}{format_.extensions[0]}"
    return format_.write(rows).encode("utf-8"), format_.content_type, filename
