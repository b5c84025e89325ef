"""Sentence embeddings from a local encoder (default all-MiniLM-L6-v2), with an optional on-disk cache.

Plain transformers + the pooling the model directory declares (mean pooling for MiniLM), which is what
sentence-transformers computes, without its per-call overhead. One model per path and process.
Cache files are safetensors shards (sha1 keys + float32 vectors): nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path as FsPath

import numpy as np

from classifiers.engine.config import apply_torch_threads, engine_config, packaged_encoder_path

ProgressFn = Callable[[int, int], None] | None

_MODELS: dict[str, tuple[object, object, str]] = {}
_LOCK = threading.Lock()


def default_encoder_path() -> str:
    """The encoder directory: the configured `embedding_model_path` (HTC_EMBEDDING_MODEL_PATH), else the packaged
    all-MiniLM-L6-v2."""
    return engine_config().embedding_model_path or packaged_encoder_path()


def _pooling_mode(model_dir: FsPath) -> str:
    """ "mean" or "cls", read from a sentence-transformers pooling config when there is one."""
    for cfg in sorted(model_dir.glob("*_Pooling/config.json")):
        data = json.loads(cfg.read_text())
        if data.get("pooling_mode_cls_token"):
            return "cls"
        return "mean"
    return "mean"


def load_encoder(model_path: str | None = None) -> tuple[object, object, str]:
    """(tokenizer, model, pooling) for a local directory, loaded once per process."""
    path = str(FsPath(model_path or default_encoder_path()).resolve())
    apply_torch_threads()
    with _LOCK:
        if path not in _MODELS:
            from transformers import AutoModel, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval()
            _MODELS[path] = (tokenizer, model, _pooling_mode(FsPath(path)))
        return _MODELS[path]


class EmbeddingCache:
    """Embeddings keyed by sha1(model path, max_length, text), stored as safetensors shards in a directory."""

    def __init__(self, directory: str | FsPath):
        self.directory = FsPath(directory)
        self._index: dict[bytes, np.ndarray] = {}
        self._seen: set[str] = set()

    @staticmethod
    def key(model_path: str, max_length: int, text: str) -> bytes:
        return hashlib.sha1(f"{model_path}\x00{max_length}\x00{text}".encode()).digest()

    def _refresh(self) -> None:
        from safetensors.numpy import load_file

        if not self.directory.is_dir():
            return
        for shard in sorted(self.directory.glob("emb-*.safetensors")):
            if shard.name in self._seen:
                continue
            data = load_file(str(shard))
            for key, vec in zip(data["keys"], data["vectors"], strict=True):
                self._index[key.tobytes()] = vec
            self._seen.add(shard.name)

    def get_many(self, keys: Sequence[bytes]) -> list[np.ndarray | None]:
        self._refresh()
        return [self._index.get(k) for k in keys]

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        from safetensors.numpy import save_file

        if not len(keys):
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"emb-{uuid.uuid4().hex}.safetensors"
        tmp = self.directory / (name + ".tmp")
        key_arr = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 20)
        save_file({"keys": key_arr.copy(), "vectors": np.ascontiguousarray(vectors, dtype=np.float32)}, str(tmp))
        tmp.replace(self.directory / name)
        self._seen.add(name)
        for key, vec in zip(keys, vectors, strict=True):
            self._index[key] = vec


_CACHES: dict[str, EmbeddingCache] = {}


class SentenceEmbedder:
    """Encodes texts into L2-normalised float32 vectors (n, dim)."""

    def __init__(self, model_path: str | None = None, max_length: int = 128, batch_size: int = 32, cache_dir=None):
        self.model_path = str(FsPath(model_path or default_encoder_path()).resolve())
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.cache_dir = cache_dir

    @property
    def dimension(self) -> int:
        _, model, _ = load_encoder(self.model_path)
        return int(model.config.hidden_size)

    def encode(self, texts: Sequence[str], progress: ProgressFn = None) -> np.ndarray:
        """(len(texts), dim) float32, each row of unit length; cached texts are not re-encoded."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        todo = list(range(len(texts)))
        cache = None
        if self.cache_dir:
            cache = _CACHES.setdefault(str(self.cache_dir), EmbeddingCache(self.cache_dir))
            keys = [EmbeddingCache.key(self.model_path, self.max_length, t) for t in texts]
            todo = []
            for i, vec in enumerate(cache.get_many(keys)):
                if vec is None:
                    todo.append(i)
                else:
                    out[i] = vec
        if todo:
            fresh = self._encode_uncached(
                [texts[i] for i in todo], progress, done0=len(texts) - len(todo), total=len(texts)
            )
            out[todo] = fresh
            if cache is not None:
                cache.put_many([keys[i] for i in todo], fresh)
        elif progress:
            progress(len(texts), len(texts))
        return out

    def _encode_uncached(self, texts: list[str], progress: ProgressFn, *, done0: int, total: int) -> np.ndarray:
        import torch

        tokenizer, model, pooling = load_encoder(self.model_path)
        # Length-sorted batches waste little on padding; a cheap character-length proxy is enough.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), model.config.hidden_size), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                hidden = model(**batch).last_hidden_state
                if pooling == "cls":
                    vec = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vec = torch.nn.functional.normalize(vec, p=2, dim=1)
                out[idx] = vec.float().numpy()
                if progress:
                    progress(done0 + min(start + self.batch_size, len(order)), total)
        return out
