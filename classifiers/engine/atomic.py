"""Directories that appear all at once: a model folder is either complete or absent, never half written.

`atomic_directory(target)` yields a fresh sibling `<target>.tmp-<uuid>`; when the block finishes, the files
are flushed to disk and the folder is renamed onto `target` with `os.replace`. If the block raises (or the
process dies), `target` is untouched: an earlier complete model stays, and no new one appears. Leftover
`*.tmp-*` folders from a killed process are never read (nothing scans for models; runs name their folder)
and `is_partial_name` lets backups skip them. Every folder gets a checksum manifest (see manifest.py).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from classifiers.engine.manifest import write_manifest

TMP_MARK = ".tmp-"
OLD_MARK = ".old-"


def is_partial_name(name: str) -> bool:
    """True for the temporary and retired folder names that `atomic_directory` uses."""
    return TMP_MARK in name or OLD_MARK in name


@contextmanager
def atomic_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary directory that replaces `target` in one rename when the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}{TMP_MARK}{uuid.uuid4().hex}")
    tmp.mkdir()
    try:
        yield tmp
        write_manifest(tmp)  # checksums of every file, checked before the model is loaded
        fsync_tree(tmp)
        replace_directory(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_directory(source: Path, target: Path) -> None:
    """Rename `source` onto `target`; an existing `target` is first moved aside, then removed.

    rename(2) cannot replace a non-empty directory, so an existing model is retired under an `.old-` name
    first: at every instant `target` is either the old complete model, absent, or the new complete model."""
    retired = None
    if target.exists():
        retired = target.with_name(f"{target.name}{OLD_MARK}{uuid.uuid4().hex}")
        os.replace(target, retired)
    os.replace(source, target)
    _fsync_dir(target.parent)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)


def fsync_tree(root: Path) -> None:
    """Flush every file and directory under `root` to disk (so a power cut cannot leave empty files)."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems do not support fsync on directories
    finally:
        os.close(fd)
