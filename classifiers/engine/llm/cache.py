"""The LLM response cache: keyed by (model, sha256 of the request), in memory and optionally on disk.

A repeated prompt (a retried job chunk, `predict_scores` after `predict`, a re-run) costs no call.
Disk entries are JSON files named by the hash, written atomically; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path as FsPath
from typing import Any


class ResponseCache:
    def __init__(self, cache_dir: str | FsPath | None = None, *, enabled: bool = True):
        self.cache_dir = FsPath(cache_dir) if cache_dir else None
        self.enabled = enabled
        self._memory: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(model: str, request: dict[str, Any]) -> tuple[str, str]:
        """(model, sha256 of the request's canonical JSON)."""
        blob = json.dumps(request, sort_keys=True, ensure_ascii=False)
        return (model, hashlib.sha256(blob.encode("utf-8")).hexdigest())

    def get(self, key: tuple[str, str]) -> dict[str, Any] | None:
        """The stored answer for a key, or None."""
        if not self.enabled:
            return None
        with self._lock:
            hit = self._memory.get(key)
        if hit is not None or self.cache_dir is None:
            return hit
        try:
            data = json.loads(self._path(key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            return None
        with self._lock:
            self._memory[key] = data
        return data

    def put(self, key: tuple[str, str], data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._memory[key] = data
        if self.cache_dir is not None:
            path = self._path(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False))
            tmp.replace(path)

    def _path(self, key: tuple[str, str]) -> FsPath:
        model_dir = hashlib.sha256(key[0].encode("utf-8")).hexdigest()[:16]
        return self.cache_dir / model_dir / f"{key[1]}.json"
