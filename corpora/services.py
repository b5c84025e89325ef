"""Writes for corpora: the all-or-nothing import, the background-import hand-off and the streamed export.

`corpus_import` reads the file once, inside one transaction (`corpora.importing.StreamingImport`): each record
is checked and written in bulk batches; any problem rolls the whole import back and is reported with file,
line and field.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from corpora.formats import WRITERS, ExportRow
from corpora.formats.base import normalise_split
from corpora.importing import Progress, StreamingImport
from corpora.models import Corpus, Document
from corpora.search import search_index_pending
from htc_app.storage import upload_delete, upload_save
from taxonomies.models import Node, Taxonomy
from taxonomies.selectors import taxonomy_tree

logger = logging.getLogger(__name__)


def clean_file_name(file_name: str) -> str:
    """The base name of an uploaded file (browsers may send a path), at most 200 characters."""
    name = PurePosixPath((file_name or "").replace("\\", "/")).name.strip()
    return (name or "upload")[:200]


def _check_fractions(test_fraction: float | None, dev_fraction: float | None) -> None:
    for label, value in (("test_fraction", test_fraction), ("dev_fraction", dev_fraction)):
        if value is not None and not 0 <= value <= 1:
            raise ValidationError({label: "A fraction lies between 0 and 1."})
    if (test_fraction or 0) + (dev_fraction or 0) > 1:
        raise ValidationError("The test and dev fractions add up to more than 1.")


def _split_codes(n: int, test_fraction: float | None, dev_fraction: float | None, seed: int) -> bytearray | None:
    """A seeded random split for the n documents whose file gives none: 0 train, 1 dev, 2 test (exact counts)."""
    if test_fraction is None and dev_fraction is None:
        return None
    n_test = round(n * (test_fraction or 0))
    n_dev = min(round(n * (dev_fraction or 0)), n - n_test)
    codes = bytearray(n)
    picked = random.Random(seed).sample(range(n), n_test + n_dev)
    for i in picked[:n_test]:
        codes[i] = 2
    for i in picked[n_test:]:
        codes[i] = 1
    return codes


def corpus_import(
    *,
    project,
    file_name: str,
    fileobj: BinaryIO,
    actor,
    add_missing_labels: bool = False,
    test_fraction: float | None = None,
    dev_fraction: float | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    name: str = "",
    job=None,
    split_map: dict[str, str] | None = None,
    index_search: bool = True,
) -> Corpus:
    """Import a CSV/TSV/JSONL/TXT/zip file as a new corpus of `project`. Returns the Corpus.

    One pass in one transaction: each record is checked and written once (bulk writes). Raises ValidationError
    listing the problems (file, line, field; the first ones, then totals per kind) when anything is wrong; the
    transaction is rolled back and nothing stays written. `progress(documents_read, None)` is called while
    reading (from inside the transaction) and `(n, n)` at the end. `split_map` maps further split names (lower
    case) to train / dev / test. `index_search=False` returns once the documents are committed and leaves their
    text index to the caller (`corpora.search.search_index_pending`; the import job runs it as its last phase);
    search finds the documents meanwhile, more slowly.
    """
    file_name = clean_file_name(file_name)
    _check_fractions(test_fraction, dev_fraction)
    split_map = _check_split_map(split_map)
    fileobj.seek(0)
    try:
        corpus = _import(
            project=project,
            file_name=file_name,
            fileobj=fileobj,
            actor=actor,
            add_missing_labels=add_missing_labels,
            name=name,
            job=job,
            random_split=test_fraction is not None or dev_fraction is not None,
            codes_for=lambda n: _split_codes(n, test_fraction, dev_fraction, seed),
            progress=progress,
            split_map=split_map,
        )
    except IntegrityError as exc:
        # Another import added the same ids while this one ran.
        logger.info("Import of %s refused at write time: %s", file_name, exc)
        raise ValidationError("Some document ids were added to this project meanwhile; nothing was imported.") from exc
    if index_search:
        search_index_pending()
    return corpus


def parse_split_map(text: str) -> dict[str, str]:
    """'train_subset=train, heldout=test' (commas, semicolons or new lines between pairs) -> a mapping.

    Raises ValidationError naming the pair that is not `name=train|dev|test`."""
    mapping: dict[str, str] = {}
    for chunk in re.split(r"[,;\n]", text or ""):
        if not chunk.strip():
            continue
        name, sep, target = chunk.partition("=")
        if not sep or not name.strip():
            raise ValidationError({"split_map": f"{chunk.strip()!r} is not name=train, name=dev or name=test."})
        mapping[name.strip().lower()] = target.strip().lower()
    return _check_split_map(mapping) or {}


def _check_split_map(split_map: dict[str, str] | None) -> dict[str, str] | None:
    if not split_map:
        return None
    out = {}
    for name, target in split_map.items():
        key = str(name).strip().lower()
        value = normalise_split(target)
        if not key or value is None or value == "":
            raise ValidationError({"split_map": f"{name}={target}: a split name maps to train, dev or test."})
        out[key] = value
    return out


@transaction.atomic
def _import(
    *, project, file_name, fileobj, actor, add_missing_labels, name, job, random_split, codes_for, progress, split_map
) -> Corpus:
    from taxonomies.services import taxonomy_record_change

    # Lock the taxonomy row (PostgreSQL) so imports into one project do not interleave their label creation.
    taxonomy = Taxonomy.objects.select_for_update().get(project=project)
    tree = taxonomy_tree(taxonomy=taxonomy)
    corpus = Corpus.objects.create(
        project=project,
        name=(name or file_name)[:255],
        source_filename=file_name[:255],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        import_job=job,
    )
    result = StreamingImport(
        project=project,
        taxonomy=taxonomy,
        tree=tree,
        corpus=corpus,
        actor=actor,
        add_missing_labels=add_missing_labels,
        codes_for=codes_for,
        random_split=random_split,
        progress=progress,
        split_map=split_map,
    ).run(fileobj, file_name)
    if result.labels_created:
        taxonomy_record_change(
            taxonomy=taxonomy,
            action="import",
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            details={"corpus": corpus.pk, "file": file_name, "labels_created": result.labels_created},
        )
    corpus.stats = {
        "documents": result.documents,
        "splits": dict(result.splits),
        "labels_created": result.labels_created,
    }
    corpus.save(update_fields=["stats"])
    return corpus


def upload_name(token: str) -> str:
    """The storage name of a stored upload (its UUID as hex). Raises ValueError for anything but a UUID."""
    return uuid.UUID(str(token)).hex


def upload_path(token: str) -> Path:
    """Where a stored upload lives on local storage: HTC_UPLOAD_DIR/<uuid>. Raises ValueError for anything but a
    UUID. (Code reads uploads through htc_app.storage; this names the local file for the operator and tests.)"""
    return Path(settings.HTC_UPLOAD_DIR) / upload_name(token)


def corpus_import_enqueue(
    *,
    project,
    upload,
    actor,
    name: str = "",
    add_missing_labels: bool = False,
    test_fraction: float | None = None,
    dev_fraction: float | None = None,
    seed: int = 0,
    split_map: dict[str, str] | None = None,
):
    """Store a large upload under a UUID name in the uploads storage (a local folder or the object store every
    worker reads) and queue a `corpus_import` job for it. Returns the Job."""
    from jobs.services import job_create, job_dispatch

    _check_fractions(test_fraction, dev_fraction)
    split_map = _check_split_map(split_map)
    token = uuid.uuid4().hex
    try:
        size = upload_save(upload_name(token), upload)
    except BaseException:
        upload_delete(upload_name(token))  # a full disk must not leave a truncated file behind
        raise
    params = {
        "upload": token,
        "file_name": clean_file_name(upload.name),
        "name": name[:255],
        "add_missing_labels": bool(add_missing_labels),
        "test_fraction": test_fraction,
        "dev_fraction": dev_fraction,
        "seed": int(seed),
        "split_map": split_map or {},
        "bytes": size,
    }
    try:
        with transaction.atomic():
            job = job_create(
                kind="corpus_import", project=project, params=params, created_by=actor, target_type="corpus"
            )
            job_dispatch(job)
    except Exception:
        upload_delete(upload_name(token))
        raise
    return job


def documents_export(*, project, fmt: str, node: Node | None = None) -> Iterator[str]:
    """The project's documents (under `node` and its descendants, when given) as chunks of CSV or JSONL text."""
    if fmt not in WRITERS:
        raise ValidationError({"format": f"Unknown export format {fmt!r}; use {' or '.join(sorted(WRITERS))}."})
    from corpora.selectors import documents_for_export

    tree = taxonomy_tree(taxonomy=project.taxonomy)
    rows = (
        ExportRow(
            id=d["external_id"], text=d["text"], split=d["split"], paths=paths, meta=d["meta"], generated=d["generated"]
        )
        for d, paths in documents_for_export(project=project, node=node, tree=tree)
    )
    # A "generated" column only when the project holds LLM-written documents (other exports stay as they were).
    if Document.objects.filter(project=project, generated=True).exists():
        return WRITERS[fmt].write(rows, tree.max_depth(), generated_column=True)
    return WRITERS[fmt].write(rows, tree.max_depth())
