"""Zip archives of CSV/TSV/JSONL/TXT files, read entry by entry (never extracted to disk).

Refused: more than HTC_ZIP_MAX_ENTRIES entries; entry names that are absolute, contain `..`, a drive letter or
a backslash (also once Unicode-normalised); the same entry name twice; symlinks; encrypted entries; nested archives; an entry that expands more than HTC_ZIP_MAX_RATIO
times its compressed size; more than HTC_ZIP_MAX_TOTAL_BYTES in all, or more than HTC_ZIP_MAX_RATIO times the
archive's compressed size in all. Sizes are checked as declared first and
then against the bytes actually read, because declared sizes can lie.
"""

from __future__ import annotations

import io
import re
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

from django.conf import settings

from corpora.formats.base import FormatError, Record, RecordError
from corpora.formats.registry import READERS, reader_name_for, register_reader

# Small entries may compress very well without being bombs; the ratio cap applies beyond this many bytes.
RATIO_GRACE_BYTES = 1024 * 1024
ARCHIVE_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"BZh")
DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name_reason(name: str) -> str | None:
    """Why an entry name could escape the extraction directory, or None when it is safe.

    The name is also checked after Unicode compatibility normalisation, so look-alikes such as fullwidth
    '．．／' (which NFKC turns into '../') are refused too, should anything ever normalise them."""
    folded = unicodedata.normalize("NFKC", name)
    if folded != name and _unsafe_as_written(folded):
        return f"looks like an unsafe name once normalised ({folded!r})"
    return _unsafe_as_written(name)


def _unsafe_as_written(name: str) -> str | None:
    if "\\" in name:
        return "contains a backslash"
    if DRIVE.match(name):
        return "starts with a drive letter"
    if name.startswith("/"):
        return "is an absolute path"
    if ".." in PurePosixPath(name).parts:
        return "contains '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _skipped(name: str) -> bool:
    """Folders and macOS resource-fork copies carry no documents."""
    return name.endswith("/") or name.startswith("__MACOSX/") or PurePosixPath(name).name.startswith("._")


def archive_limit(infos: list[zipfile.ZipInfo]) -> int:
    """The most bytes the whole archive may expand to: the total cap, and the ratio cap applied to the
    archive as a whole (otherwise many small entries, each inside the per-entry grace, would add up to
    a 1000-fold expansion)."""
    compressed = sum(info.compress_size for info in infos)
    return min(settings.HTC_ZIP_MAX_TOTAL_BYTES, max(compressed * settings.HTC_ZIP_MAX_RATIO, RATIO_GRACE_BYTES))


class _Budget:
    """Counts the bytes actually decompressed, for one archive and for its current entry."""

    def __init__(self, archive: str, limit: int | None = None):
        self.archive = archive
        self.total = 0
        self.limit = settings.HTC_ZIP_MAX_TOTAL_BYTES if limit is None else limit

    def check(self, source: str, entry_bytes: int, entry_limit: int) -> None:
        if entry_bytes > entry_limit:
            raise FormatError(
                source,
                f"the entry expands more than {settings.HTC_ZIP_MAX_RATIO} times its compressed size (zip bomb?)",
            )
        if self.total > self.limit:
            raise FormatError(self.archive, f"the archive expands to more than {self.limit:,} bytes (zip bomb?)")


class _CountingReader(io.RawIOBase):
    """A raw stream over one zip entry that enforces the ratio and total caps on every read."""

    def __init__(self, inner: BinaryIO, source: str, info: zipfile.ZipInfo, budget: _Budget):
        self.inner = inner
        self.source = source
        self.budget = budget
        self.read_bytes = 0
        self.limit = max(info.compress_size * settings.HTC_ZIP_MAX_RATIO, RATIO_GRACE_BYTES)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            n = self.inner.readinto(buffer)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise FormatError(self.source, f"the entry is corrupt ({exc})") from None
        self.read_bytes += n
        self.budget.total += n
        self.budget.check(self.source, self.read_bytes, self.limit)
        return n


def _check_archive(zf: zipfile.ZipFile, archive: str) -> list[zipfile.ZipInfo]:
    infos = zf.infolist()
    if len(infos) > settings.HTC_ZIP_MAX_ENTRIES:
        raise FormatError(
            archive, f"the archive has {len(infos):,} entries; the limit is {settings.HTC_ZIP_MAX_ENTRIES:,}"
        )
    declared = 0
    seen: set[str] = set()
    for info in infos:
        source = f"{archive}/{info.filename}"
        reason = unsafe_name_reason(info.filename)
        if reason:
            raise FormatError(archive, f"unsafe entry name {info.filename!r}: it {reason}")
        # Two entries with one name: zip tools disagree on which one counts, so neither is guessed.
        if info.filename in seen:
            raise FormatError(archive, f"the entry name {info.filename!r} appears twice in the archive")
        seen.add(info.filename)
        if _is_symlink(info):
            raise FormatError(source, "symbolic links are not accepted in archives")
        if _skipped(info.filename):
            continue
        if info.flag_bits & 0x1:
            raise FormatError(source, "encrypted entries are not supported")
        if PurePosixPath(info.filename).suffix.lower() in (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz"):
            raise FormatError(source, "nested archives are not accepted; put the files in one zip")
        if info.file_size > max(info.compress_size * settings.HTC_ZIP_MAX_RATIO, RATIO_GRACE_BYTES):
            raise FormatError(
                source,
                f"the entry expands more than {settings.HTC_ZIP_MAX_RATIO} times its compressed size (zip bomb?)",
            )
        declared += info.file_size
    limit = archive_limit(infos)
    if declared > limit:
        raise FormatError(archive, f"the archive expands to more than {limit:,} bytes (zip bomb?)")
    return infos


@register_reader("zip", [".zip"])
def read_zip(stream: BinaryIO, source: str, *, split_map=None) -> Iterator[Record | RecordError]:
    try:
        zf = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise FormatError(source, f"not a readable zip archive ({exc})") from None
    with zf:
        infos = _check_archive(zf, source)
        budget = _Budget(source, archive_limit(infos))
        found = False
        for info in infos:
            if _skipped(info.filename):
                continue
            entry_source = f"{source}/{info.filename}"
            name = reader_name_for(info.filename)
            if name is None or name == "zip":
                raise FormatError(entry_source, "unsupported file type inside the archive (use CSV, TSV, JSONL or TXT)")
            found = True
            try:
                inner = zf.open(info)
            except (NotImplementedError, zipfile.BadZipFile, RuntimeError) as exc:
                raise FormatError(entry_source, f"the entry cannot be read ({exc})") from None
            with inner:
                buffered = io.BufferedReader(_CountingReader(inner, entry_source, info, budget))
                if buffered.peek(8)[:8].startswith(ARCHIVE_MAGIC):
                    raise FormatError(entry_source, "nested archives are not accepted; put the files in one zip")
                yield from READERS[name](buffered, entry_source, split_map=split_map)
        if not found:
            raise FormatError(source, "the archive holds no CSV, TSV, JSONL or TXT files")
