"""Checksums of a model folder: written when the folder is saved, checked before it is loaded.

`MANIFEST.json` lists the SHA-256 of every file under the folder (sub-folders included). A model whose files
changed since training (flipped bytes, a replaced config.json, an added or removed file) is refused with
`ModelFilesChanged`, so a tampered model never predicts. Config values that name files or folders
(`encoder_path`, `model_path`, `cache_dir`, `model_dir`, at any depth) must stay inside the model folder or the
operator's configured model paths: a config cannot point a load at another file on the server.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

MANIFEST_NAME = "MANIFEST.json"
PATH_PARAMS = frozenset({"encoder_path", "model_path", "cache_dir", "model_dir"})
CHANGED = "model files changed since training"


class ModelFilesChanged(ValueError):
    """The folder does not match the checksums written when it was saved (or has none)."""


class ModelPathRefused(ValueError):
    """A config value names a file outside the model folder and the configured model paths."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root: Path) -> dict[str, Path]:
    found = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel != MANIFEST_NAME:
                found[rel] = path
    return found


def write_manifest(root: str | os.PathLike) -> dict[str, str]:
    """Write MANIFEST.json for every file under `root` (replacing an older one); returns {relative path: sha256}."""
    root = Path(root)
    sums = {rel: file_sha256(path) for rel, path in sorted(_files(root).items())}
    (root / MANIFEST_NAME).write_text(json.dumps({"format": 1, "sha256": sums}, indent=1, sort_keys=True))
    return sums


def verify_manifest(root: str | os.PathLike) -> None:
    """Raise ModelFilesChanged unless every file under `root` matches MANIFEST.json, with none missing or added."""
    root = Path(root)
    try:
        recorded = json.loads((root / MANIFEST_NAME).read_text())["sha256"]
    except FileNotFoundError:
        raise ModelFilesChanged(f"{CHANGED} (the checksum manifest is missing)") from None
    except (ValueError, KeyError, TypeError):
        raise ModelFilesChanged(f"{CHANGED} (the checksum manifest is unreadable)") from None
    present = _files(root)
    for rel in sorted(set(recorded) | set(present)):
        if rel not in present:
            raise ModelFilesChanged(f"{CHANGED} ({rel} is missing)")
        if rel not in recorded:
            raise ModelFilesChanged(f"{CHANGED} ({rel} was added)")
        if file_sha256(present[rel]) != recorded[rel]:
            raise ModelFilesChanged(f"{CHANGED} ({rel} differs)")


def check_path_params(
    config: object, root: str | os.PathLike, allowed_roots: Callable[[], Iterable[str | os.PathLike]]
) -> None:
    """Refuse any value of a path-naming key (at any depth of `config`) outside `root` and `allowed_roots()`
    (called only when a config names a path, since finding the configured models may import torch)."""
    roots: list[Path] = []
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in PATH_PARAMS and value not in (None, ""):
                    target = Path(str(value)).resolve()
                    if not roots:
                        roots = [Path(root).resolve()] + [Path(r).resolve() for r in allowed_roots() if r]
                    if not any(target == r or target.is_relative_to(r) for r in roots):
                        raise ModelPathRefused(
                            f"The model's {key} names a path outside its folder and the configured model paths."
                        )
                else:
                    stack.append(value)
        elif isinstance(item, list | tuple):
            stack.extend(item)
