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

_MODELS: dict[tuple[str, str], tuple[object, object, str]] = {}
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


def pooling_mode(model_path: str | None = None) -> str:
    """The pooling the encoder directory declares ("mean" unless its sentence-transformers config says CLS)."""
    return _pooling_mode(FsPath(model_path or default_encoder_path()))


def load_encoder(model_path: str | None = None, device: str = "cpu") -> tuple[object, object, str]:
    """(tokenizer, model, pooling) for a local directory on `device`, loaded once per process and device."""
    path = str(FsPath(model_path or default_encoder_path()).resolve())
    apply_torch_threads()
    key = (path, str(device))
    with _LOCK:
        if key not in _MODELS:
            from transformers import AutoModel, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True)
            model.eval()
            if str(device) != "cpu":
                model.to(device)
            _MODELS[key] = (tokenizer, model, _pooling_mode(FsPath(path)))
        return _MODELS[key]


class EmbeddingCache:
    """Embeddings keyed by sha1(model path, max_length, text), stored as safetensors shards in a directory."""

    def __init__(self, directory: str | FsPath):
        self.directory = FsPath(directory)
        self._index: dict[bytes, np.ndarray] = {}
        self._seen: set[str] = set()

    @staticmethod
    def key(model_path: str, max_length: int, text: str, chunks: int = 1) -> bytes:
        length = f"{max_length}" if int(chunks) <= 1 else f"{max_length}x{int(chunks)}"
        return hashlib.sha1(f"{model_path}\x00{length}\x00{text}".encode()).digest()

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


def _special_framing(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after a single text ([CLS] / [SEP] for BERT)."""
    inner = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(inner) + 1):
        if full[start : start + len(inner)] == inner:
            return list(full[:start]), list(full[start + len(inner) :])
    return [], []


class SentenceEmbedder:
    """Encodes texts into L2-normalised float32 vectors (n, dim).

    `chunks` > 1: a text is the mean of the pooled embeddings of its first `chunks` windows of `max_length`
    tokens (special tokens included), normalised; 1 embeds the first window only. `device`: "auto" (CUDA,
    then MPS, then CPU), or a device name; vectors always come back as CPU numpy arrays."""

    def __init__(
        self,
        model_path: str | None = None,
        max_length: int = 128,
        batch_size: int = 32,
        cache_dir=None,
        chunks: int = 1,
        device: str = "auto",
    ):
        self.model_path = str(FsPath(model_path or default_encoder_path()).resolve())
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)
        self.cache_dir = cache_dir
        self.chunks = max(1, int(chunks or 1))
        self.device = device

    @property
    def device_name(self) -> str:
        from classifiers.engine.devices import resolve_device

        return resolve_device(self.device)

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
            keys = [EmbeddingCache.key(self.model_path, self.max_length, t, self.chunks) for t in texts]
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

    def _windows(self, tokenizer, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        """Token ids of every window (special tokens included) and the text each window belongs to."""
        head, tail = _special_framing(tokenizer)
        budget = max(1, self.max_length - len(head) - len(tail))
        cut = [t[: budget * self.chunks * 24] for t in texts]  # a token covers far fewer than 24 characters
        ids = tokenizer(cut, add_special_tokens=False, truncation=True, max_length=budget * self.chunks)["input_ids"]
        windows: list[list[int]] = []
        owner: list[int] = []
        for i, row in enumerate(ids):
            pieces = [row[s : s + budget] for s in range(0, len(row), budget)] or [[]]
            for piece in pieces[: self.chunks]:
                windows.append(head + list(piece) + tail)
                owner.append(i)
        return windows, owner

    def _encode_uncached(self, texts: list[str], progress: ProgressFn, *, done0: int, total: int) -> np.ndarray:
        import torch

        from classifiers.engine.devices import autocast

        device = self.device_name
        tokenizer, model, pooling = load_encoder(self.model_path, device)
        hidden_size = model.config.hidden_size
        if self.chunks > 1:
            windows, owner = self._windows(tokenizer, texts)
        else:
            windows, owner = None, list(range(len(texts)))
        n_items = len(owner)
        # Length-sorted batches waste little on padding; a cheap character-length proxy is enough.
        lengths = [len(w) for w in windows] if windows is not None else [len(t) for t in texts]
        order = sorted(range(n_items), key=lambda i: lengths[i])
        pooled = np.zeros((n_items, hidden_size), dtype=np.float32)
        with torch.inference_mode(), autocast(device):
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                if windows is None:
                    batch = tokenizer(
                        [texts[i] for i in idx],
                        padding=True,
                        truncation=True,
                        max_length=self.max_length,
                        return_tensors="pt",
                    )
                else:
                    batch = tokenizer.pad({"input_ids": [windows[i] for i in idx]}, return_tensors="pt")
                batch = {k: v.to(device) for k, v in batch.items()}
                hidden = model(**batch).last_hidden_state.float()
                if pooling == "cls":
                    vec = hidden[:, 0]
                else:
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    vec = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                vec = torch.nn.functional.normalize(vec, p=2, dim=1)
                pooled[idx] = vec.float().cpu().numpy()
                if progress:
                    progress(done0 + round(len(texts) * min(start + self.batch_size, n_items) / n_items), total)
        if windows is None:
            return pooled
        out = np.zeros((len(texts), hidden_size), dtype=np.float32)
        np.add.at(out, np.asarray(owner), pooled)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)
