"""Writes for corpora: the all-or-nothing import, the background-import hand-off and the streamed export.

`corpus_import` reads the file twice: pass 1 (`corpora.importing.import_check`) checks everything and writes
nothing; pass 2 runs only when pass 1 found no problem and writes documents, gold labels and any new labels in
one transaction with batched inserts.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from corpora.formats import WRITERS, ExportRow, FormatError, RecordError, read_records
from corpora.importing import ImportPlan, Progress, document_id_for, import_check
from corpora.models import Corpus, Document, GoldLabel, Split
from taxonomies.models import Node, Taxonomy
from taxonomies.selectors import taxonomy_tree

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
SPLIT_CODES = {0: Split.TRAIN, 1: Split.DEV, 2: Split.TEST}


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
) -> Corpus:
    """Import a CSV/TSV/JSONL/TXT/zip file as a new corpus of `project`. Returns the Corpus.

    Raises ValidationError listing every problem (file, line, field) when anything is wrong; then nothing is
    written. `progress(done, total)` is called while checking (total None), with (0, documents) just before the
    write transaction opens, and after every written batch (inside that transaction).
    """
    file_name = clean_file_name(file_name)
    _check_fractions(test_fraction, dev_fraction)
    fileobj.seek(0)
    plan = import_check(
        project=project, file_name=file_name, fileobj=fileobj, add_missing_labels=add_missing_labels, progress=progress
    )
    if plan.problems:
        raise ValidationError(plan.problems.messages())
    fileobj.seek(0)
    if progress:
        progress(0, plan.documents)  # the last call outside the write transaction
    try:
        return _write(
            project=project,
            file_name=file_name,
            fileobj=fileobj,
            actor=actor,
            plan=plan,
            name=name,
            job=job,
            codes=_split_codes(plan.unsplit, test_fraction, dev_fraction, seed),
            progress=progress,
        )
    except FormatError as exc:  # the file changed between the passes
        raise ValidationError(f"The file changed while it was imported; nothing was imported: {exc}") from None
    except IntegrityError as exc:
        # Another import added the same ids between the check and the write.
        logger.info("Import of %s refused at write time: %s", file_name, exc)
        raise ValidationError("Some document ids were added to this project meanwhile; nothing was imported.") from exc


@transaction.atomic
def _write(*, project, file_name, fileobj, actor, plan: ImportPlan, name, job, codes, progress) -> Corpus:
    from taxonomies.services import _record_change, node_create

    # Lock the taxonomy row (PostgreSQL) so imports into one project do not interleave their label creation.
    taxonomy = Taxonomy.objects.select_for_update().get(project=project)
    tree = taxonomy_tree(taxonomy=taxonomy)
    node_for: dict[tuple[str, ...], int] = {}
    to_create = set(plan.new_paths)
    created = 0
    for path in sorted(plan.paths, key=len):
        node_id = tree.find_path(list(path))
        if node_id is None:
            if path not in to_create:
                raise ValidationError(f"The label {' > '.join(path)!r} disappeared meanwhile; nothing was imported.")
            parent: Node | None = None
            for i in range(len(path)):
                prefix = path[: i + 1]
                found = node_for.get(prefix) or tree.find_path(list(prefix))
                if found is None:
                    parent = node_create(taxonomy=taxonomy, name=prefix[-1], parent=parent, actor=actor, record=False)
                    tree.nodes[parent.pk] = parent
                    tree.children.setdefault(parent.parent_id, []).append(parent.pk)
                    created += 1
                    found = parent.pk
                else:
                    parent = tree.nodes[found]
                node_for[prefix] = found
            node_id = node_for[path]
        node_for[path] = node_id

    corpus = Corpus.objects.create(
        project=project,
        name=(name or file_name)[:255],
        source_filename=file_name[:255],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        import_job=job,
    )
    if created:
        _record_change(
            taxonomy=taxonomy,
            action="import",
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            details={"corpus": corpus.pk, "file": file_name, "labels_created": created},
        )
    splits: Counter = Counter()
    written = unsplit_index = 0
    batch: list[tuple[Document, tuple]] = []
    for item in read_records(fileobj, file_name):
        if isinstance(item, RecordError):  # the file changed between the passes
            raise ValidationError(f"The file changed while it was imported: {item}")
        split = item.split
        if not split:
            split = SPLIT_CODES[codes[unsplit_index]] if codes is not None else Split.NONE
            unsplit_index += 1
        splits[str(split) or "unassigned"] += 1
        doc = Document(
            project=project,
            corpus=corpus,
            external_id=document_id_for(item),
            text=item.text,
            split=split,
            meta=item.meta,
            length=len(item.text),
        )
        batch.append((doc, item.paths))
        if len(batch) >= BATCH_SIZE:
            written += _flush(batch, node_for)
            batch = []
            if progress:
                progress(written, plan.documents)
    written += _flush(batch, node_for)
    if progress:
        progress(written, plan.documents)
    corpus.stats = {"documents": written, "splits": dict(splits), "labels_created": created}
    corpus.save(update_fields=["stats"])
    return corpus


def _flush(batch: list[tuple[Document, tuple]], node_for: dict[tuple[str, ...], int]) -> int:
    if not batch:
        return 0
    Document.objects.bulk_create([doc for doc, _ in batch], batch_size=BATCH_SIZE)
    labels = [GoldLabel(document_id=doc.pk, node_id=node_for[path]) for doc, paths in batch for path in paths]
    GoldLabel.objects.bulk_create(labels, batch_size=BATCH_SIZE)
    return len(batch)


def upload_path(token: str) -> Path:
    """Where a stored upload lives: HTC_UPLOAD_DIR/<uuid>. Raises ValueError for anything but a UUID."""
    return Path(settings.HTC_UPLOAD_DIR) / uuid.UUID(str(token)).hex


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
):
    """Store a large upload under a UUID name and queue a `corpus_import` job for it. Returns the Job."""
    from jobs.services import job_create, job_dispatch

    _check_fractions(test_fraction, dev_fraction)
    token = uuid.uuid4().hex
    destination = upload_path(token)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "xb") as out:
        destination.chmod(0o600)
        for chunk in upload.chunks():
            out.write(chunk)
    params = {
        "upload": token,
        "file_name": clean_file_name(upload.name),
        "name": name[:255],
        "add_missing_labels": bool(add_missing_labels),
        "test_fraction": test_fraction,
        "dev_fraction": dev_fraction,
        "seed": int(seed),
        "bytes": destination.stat().st_size,
    }
    try:
        with transaction.atomic():
            job = job_create(
                kind="corpus_import", project=project, params=params, created_by=actor, target_type="corpus"
            )
            job_dispatch(job)
    except Exception:
        destination.unlink(missing_ok=True)
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
