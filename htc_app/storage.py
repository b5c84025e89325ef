"""Shared storage for uploads and trained models, through Django's storage API.

Two storages, by alias: `htc_uploads` (files waiting for a background import) and `htc_models` (one folder per
trained run). With `HTC_STORAGE=local` (the default) both are FileSystemStorage folders under HTC_DATA_DIR,
read from the settings at call time; with `HTC_STORAGE=s3` they are django-storages S3 storages (settings.py).

Model folders:
- local: the folder is written in place with the engine's `atomic_directory` (it appears in one rename when
  complete) and the run keeps its absolute path, as before;
- object store: the folder is written locally first, then uploaded under a new key `<name>-<hash>/` (the hash
  covers every file's SHA-256), and a `READY.json` manifest listing every file, its size and SHA-256 is written
  last. A reader refuses a key without it: the object-store equivalent of the rename. Readers download the
  folder once into HTC_MODEL_CACHE_DIR/<hash>/, checking every checksum, and reuse that copy afterwards.
The engine never sees any of this: it saves to and loads from a local folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages

from classifiers.engine.atomic import atomic_directory, fsync_tree
from classifiers.engine.manifest import write_manifest

UPLOADS = "htc_uploads"
MODELS = "htc_models"
#: A model folder in the object store is named in Run.model_dir as this prefix + its key.
STORE_PREFIX = "store:"
READY_FILE = "READY.json"
FORMAT = "htc-model-folder/1"


class IncompleteModel(FileNotFoundError):
    """A model key without its READY manifest, or whose files do not match it."""


def uploads_storage() -> Storage:
    """Where uploads wait for their import job."""
    return _storage(UPLOADS, settings.HTC_UPLOAD_DIR)


def models_storage() -> Storage:
    """Where trained model folders live."""
    return _storage(MODELS, settings.HTC_MODEL_DIR)


def _storage(alias: str, local_root) -> Storage:
    if alias in settings.STORAGES:
        return storages[alias]
    # The local default follows the settings as they are now (tests and restores change the folders).
    return FileSystemStorage(location=str(local_root), file_permissions_mode=0o600, directory_permissions_mode=0o700)


def local_path(storage: Storage, name: str) -> Path | None:
    """The file system path of `name` when the storage is a local folder, else None."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


# ----- uploads -----
def upload_save(name: str, upload) -> int:
    """Store an uploaded file under `name` (a fresh UUID); returns its size in bytes."""
    storage = uploads_storage()
    saved = storage.save(name, upload if isinstance(upload, File) else File(upload, name=name))
    if saved != name:  # a UUID never collides; a rename would lose track of the file
        storage.delete(saved)
        raise FileExistsError(f"An upload named {name} already exists.")
    return storage.size(name)


def upload_exists(name: str) -> bool:
    return uploads_storage().exists(name)


def upload_delete(name: str) -> None:
    storage = uploads_storage()
    if storage.exists(name):
        storage.delete(name)


@contextmanager
def upload_open(name: str) -> Iterator:
    """The stored upload as a seekable binary file: the file itself on a local folder, a local copy otherwise."""
    storage = uploads_storage()
    path = local_path(storage, name)
    if path is not None:
        with open(path, "rb") as fh:
            yield fh
        return
    with tempfile.TemporaryFile(dir=_scratch_dir()) as copy:
        with storage.open(name, "rb") as src:
            shutil.copyfileobj(src, copy, 1024 * 1024)
        copy.seek(0)
        yield copy


# ----- model folders -----
def folder_manifest(root: Path) -> dict[str, dict]:
    """{relative path: {"sha256", "bytes"}} of every file under `root`, sorted by path."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1024 * 1024), b""):
                digest.update(block)
        files[path.relative_to(root).as_posix()] = {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}
    return files


def manifest_hash(files: dict[str, dict]) -> str:
    """One SHA-256 over the file list and the files' own hashes: the folder's content hash."""
    text = "".join(f"{name}\0{entry['sha256']}\n" for name, entry in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class ModelWrite:
    """A model folder being written: save into `path`; after the block, `ref` is what Run.model_dir stores."""

    path: Path
    ref: str = ""


@contextmanager
def model_folder_write(name: str) -> Iterator[ModelWrite]:
    """Yield a local folder to save a model into; when the block succeeds, publish it as model `name`.

    Local storage: the folder replaces `<models>/<name>` in one rename (engine/atomic.py). Object store: the
    files go to a new key `<name>-<hash16>/`, READY.json last. Nothing is published if the block raises."""
    storage = models_storage()
    target = local_path(storage, name)
    if target is not None:
        with atomic_directory(target) as tmp:
            write = ModelWrite(path=tmp)
            yield write
        write.ref = str(target)
        return
    staging = Path(tempfile.mkdtemp(prefix=f"{name}.tmp-", dir=_scratch_dir()))
    try:
        write = ModelWrite(path=staging)
        yield write
        write_manifest(staging)  # the engine's checksums cover every file written into the folder (manifest.py)
        files = folder_manifest(staging)
        digest = manifest_hash(files)
        key = f"{name}-{digest[:16]}"
        for rel in files:
            with open(staging / rel, "rb") as fh:
                _save_exact(storage, f"{key}/{rel}", File(fh, name=rel))
        ready = {"format": FORMAT, "hash": digest, "files": files}
        _save_exact(storage, f"{key}/{READY_FILE}", ContentFile(json.dumps(ready, indent=1).encode()))
        _cache_install(staging, digest)  # the writer's own later reads need no download
        write.ref = STORE_PREFIX + key
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def model_folder_discard(ref: str) -> None:
    """Remove a published model folder that no run names (its run could not be saved); missing is fine."""
    if not ref:
        return
    if not ref.startswith(STORE_PREFIX):
        shutil.rmtree(ref, ignore_errors=True)
        return
    storage, key = models_storage(), ref[len(STORE_PREFIX) :].strip("/")
    try:
        files, _digest = _ready_manifest(storage, key)
    except IncompleteModel:
        return
    storage.delete(f"{key}/{READY_FILE}")  # first: a key without it is never loaded
    for rel in files:
        storage.delete(f"{key}/{rel}")


def _ready_manifest(storage: Storage, key: str) -> tuple[dict[str, dict], str]:
    """The files and content hash a ready model key lists; IncompleteModel when it is not ready or inconsistent."""
    try:
        with storage.open(f"{key}/{READY_FILE}", "rb") as fh:
            ready = json.loads(fh.read())
        files = ready["files"]
        digest = manifest_hash(files)
    except (FileNotFoundError, OSError, ValueError, KeyError, TypeError) as exc:
        raise IncompleteModel(f"The model {key} is not complete in the object store (no valid {READY_FILE}).") from exc
    if digest != ready.get("hash"):
        raise IncompleteModel(f"The manifest of model {key} does not match its own hash.")
    return files, digest


def model_file_read(ref: str, rel: str) -> bytes:
    """One file of a model folder (e.g. config.json), without downloading the whole folder when it is not cached."""
    if not ref.startswith(STORE_PREFIX):
        return (Path(ref) / rel).read_bytes()
    key = ref[len(STORE_PREFIX) :].strip("/")
    storage = models_storage()
    files, digest = _ready_manifest(storage, key)
    cached = _cache_dir() / digest
    if cached.is_dir():
        return (cached / rel).read_bytes()
    if rel not in files:
        raise FileNotFoundError(f"Model {key} has no file {rel}.")
    with storage.open(f"{key}/{rel}", "rb") as fh:
        data = fh.read()
    if hashlib.sha256(data).hexdigest() != files[rel]["sha256"]:
        raise IncompleteModel(f"Model {key}: {rel} does not match the manifest.")
    return data


def model_folder_local(ref: str) -> Path:
    """A local folder holding the model that Run.model_dir `ref` names (downloaded and cached when needed).

    Raises IncompleteModel for an object-store key that is not marked ready or whose files do not match."""
    if not ref.startswith(STORE_PREFIX):
        return Path(ref)
    key = ref[len(STORE_PREFIX) :].strip("/")
    storage = models_storage()
    files, digest = _ready_manifest(storage, key)
    cached = _cache_dir() / digest
    if cached.is_dir():
        return cached
    staging = Path(tempfile.mkdtemp(prefix=f"{digest}.tmp-", dir=_scratch_dir()))
    try:
        for rel in files:
            if rel.startswith("/") or ".." in Path(rel).parts:
                raise IncompleteModel(f"The manifest of model {key} names an unsafe path {rel!r}.")
            out = staging / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(f"{key}/{rel}", "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
        got = folder_manifest(staging)
        if got != files:
            bad = sorted(n for n in set(files) | set(got) if files.get(n) != got.get(n))
            raise IncompleteModel(f"Model {key}: {', '.join(bad[:3])} do not match the manifest.")
        return _cache_install(staging, digest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _save_exact(storage: Storage, name: str, content) -> None:
    saved = storage.save(name, content)
    if saved != name:
        raise OSError(f"The storage stored {name} as {saved}; set file_overwrite so keys stay as written.")


def _cache_dir() -> Path:
    root = Path(getattr(settings, "HTC_MODEL_CACHE_DIR", Path(settings.HTC_DATA_DIR) / "model_cache"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def _scratch_dir() -> Path:
    root = _cache_dir() / ".tmp"
    root.mkdir(parents=True, exist_ok=True)
    return root


def _cache_install(staging: Path, digest: str) -> Path:
    """Move a complete folder to the cache under its hash (one rename); keep an existing copy if one won."""
    target = _cache_dir() / digest
    if target.is_dir():
        return target
    fsync_tree(staging)
    moving = staging.with_name(f"{digest}.tmp-{uuid.uuid4().hex}")
    os.rename(staging, moving)
    try:
        os.rename(moving, target)
    except OSError:  # another process installed the same content meanwhile
        shutil.rmtree(moving, ignore_errors=True)
    return target
