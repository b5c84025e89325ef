"""Pretrained language model plumbing shared by the prompt strategies (hierverb, hiericrf).

Stable API (other modules import these names; keep them backwards compatible):

- `default_encoder_path() -> str`: the configured encoder (engine/config.py), else the bundled all-MiniLM-L6-v2.
- `load_plm(path=None) -> BasePLM`: the checkpoint loaded once per process (cache keyed by path). Never train
  the cached modules: call `BasePLM.fresh_encoder()` / `fresh_mlm_model()` / `new_transform()` for copies.
- `MaskTransform`: dense + activation + LayerNorm applied to a `[MASK]` hidden state (the MLM head transform).
- `mask_prompt(levels, mask_token, prefix="It was") -> str`: "It was 1 level: [MASK] 2 level: [MASK]."
- `PromptEncoder(tokenizer, prompt, max_length)`: `.encode(texts) -> list[list[int]]` puts the prompt BEFORE the
  text and truncates only the text; `.mask_positions` are the (fixed) indices of the prompt's mask tokens.
- `collate(ids_list, pad_id) -> (input_ids, attention_mask)` and `length_sorted_batches(lengths, size)`.
- `states_at(hidden, positions) -> Tensor[batch, n_masks, hidden]`, `mean_pool(hidden, attention_mask)`.
- `label_name_vectors(plm, hierarchy, mode)` (one vector per node from its name) and
  `mix_children_mean(vectors, hierarchy, own=1, children=1)` (bottom-up parent/children mixing).
- `seed_everything(seed)`, `optimizer_groups(...)`, `linear_schedule(optimizer, total_steps, warmup_steps=0)`
  (its `LinearFactor` can end the schedule earlier): the training recipe.

Nothing here imports Django or any app.
"""

from __future__ import annotations

import copy
import os
import random
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from classifiers.engine.config import apply_torch_threads, engine_config, packaged_encoder_path
from classifiers.engine.hierarchy import Hierarchy

# Where common MLM heads keep their transform: (dense, layer norm) attribute paths on the MaskedLM model.
_MLM_TRANSFORMS: tuple[tuple[str, str], ...] = (
    ("cls.predictions.transform.dense", "cls.predictions.transform.LayerNorm"),  # BERT, MiniLM, ...
    ("lm_head.dense", "lm_head.layer_norm"),  # RoBERTa, XLM-R
    ("vocab_transform", "vocab_layer_norm"),  # DistilBERT
    ("generator_predictions.dense", "generator_predictions.LayerNorm"),  # ELECTRA generator
)

_CACHE: dict[str, BasePLM] = {}
_CACHE_LOCK = threading.Lock()


def default_encoder_path() -> str:
    """The encoder directory: the configured `encoder_path` (HTC_ENCODER_PATH), else the packaged all-MiniLM-L6-v2."""
    return engine_config().encoder_path or packaged_encoder_path()


class MaskTransform(nn.Module):
    """dense -> activation -> LayerNorm, the transform of a BERT-style MLM head."""

    def __init__(self, hidden_size: int, activation: str = "gelu", eps: float = 1e-12):
        super().__init__()
        from transformers.activations import get_activation

        self.activation_name = activation
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.act = get_activation(activation)
        self.norm = nn.LayerNorm(hidden_size, eps=eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.norm(self.act(self.dense(hidden)))

    @classmethod
    def identity(cls, hidden_size: int, activation: str = "gelu", eps: float = 1e-12) -> MaskTransform:
        """Freshly initialised: identity dense, zero bias, unit LayerNorm (learned during training)."""
        module = cls(hidden_size, activation, eps)
        with torch.no_grad():
            module.dense.weight.copy_(torch.eye(hidden_size))
            module.dense.bias.zero_()
            module.norm.weight.fill_(1.0)
            module.norm.bias.zero_()
        return module


@dataclass
class BasePLM:
    """A loaded checkpoint. `encoder` returns `last_hidden_state`; `mlm_model` is set only when the checkpoint
    has a trained MLM head (then `mlm_model.base_model is encoder`)."""

    path: str
    tokenizer: Any
    encoder: nn.Module
    mlm_model: nn.Module | None
    transform_state: dict[str, torch.Tensor] | None  # dense.weight, dense.bias, norm.weight, norm.bias
    activation: str = "gelu"
    layer_norm_eps: float = 1e-12
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_mlm_head(self) -> bool:
        return self.transform_state is not None

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    @property
    def mask_token_id(self) -> int:
        if self.tokenizer.mask_token_id is None:
            raise ValueError(f"the tokenizer of {self.path} has no mask token")
        return int(self.tokenizer.mask_token_id)

    def fresh_encoder(self) -> nn.Module:
        """A trainable copy of the encoder (the cached one is never modified)."""
        return copy.deepcopy(self.encoder)

    def fresh_mlm_model(self) -> nn.Module | None:
        """A trainable copy of the whole MaskedLM model (its `.base_model` is the encoder), or None."""
        return copy.deepcopy(self.mlm_model) if self.mlm_model is not None else None

    def new_transform(self) -> MaskTransform:
        """The MLM head's transform when the checkpoint has one, else an identity-initialised one."""
        if self.transform_state is None:
            return MaskTransform.identity(self.hidden_size, self.activation, self.layer_norm_eps)
        module = MaskTransform(self.hidden_size, self.activation, self.layer_norm_eps)
        module.load_state_dict(self.transform_state)
        return module

    def input_embeddings(self) -> torch.Tensor:
        """The input (word) embedding matrix, detached: (vocab, hidden)."""
        return self.encoder.get_input_embeddings().weight.detach()


def load_plm(path: str | os.PathLike | None = None) -> BasePLM:
    """Load (once per process) the tokenizer and encoder at `path`, with the MLM head transform if present."""
    key = str(path or default_encoder_path())
    apply_torch_threads()
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load_uncached(key)
        return _CACHE[key]


def clear_plm_cache() -> None:
    with _CACHE_LOCK:
        _CACHE.clear()


def _load_uncached(path: str) -> BasePLM:
    from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    tokenizer = AutoTokenizer.from_pretrained(path)
    verbosity = hf_logging.get_verbosity()
    bar = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()  # a checkpoint without an MLM head makes transformers list the missing keys
    hf_logging.disable_progress_bar()
    try:
        try:
            mlm, info = AutoModelForMaskedLM.from_pretrained(path, output_loading_info=True)
        except (ValueError, KeyError):  # no MaskedLM class for this architecture
            mlm, info = None, None
        encoder = mlm.base_model if mlm is not None else AutoModel.from_pretrained(path)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()
    transform_state, activation = None, getattr(encoder.config, "hidden_act", "gelu")
    if mlm is not None:
        missing = set(info.get("missing_keys") or ())
        for dense_name, norm_name in _MLM_TRANSFORMS:
            dense, norm = _get_module(mlm, dense_name), _get_module(mlm, norm_name)
            if dense is None or norm is None:
                continue
            if f"{dense_name}.weight" in missing or f"{norm_name}.weight" in missing:
                break  # the class has a head, the checkpoint does not: it would be random
            transform_state = {
                "dense.weight": dense.weight.detach().clone(),
                "dense.bias": dense.bias.detach().clone(),
                "norm.weight": norm.weight.detach().clone(),
                "norm.bias": norm.bias.detach().clone(),
            }
            activation = getattr(mlm.config, "hidden_act", None) or getattr(mlm.config, "activation", "gelu")
            break
    if transform_state is None:
        mlm = None  # keep only the encoder; a random head is useless
    encoder.eval()
    if mlm is not None:
        mlm.eval()
    eps = float(getattr(encoder.config, "layer_norm_eps", 1e-12))
    if not isinstance(activation, str):
        activation = "gelu"
    return BasePLM(
        path=path,
        tokenizer=tokenizer,
        encoder=encoder,
        mlm_model=mlm,
        transform_state=transform_state,
        activation=activation,
        layer_norm_eps=eps,
    )


def _get_module(root: nn.Module, dotted: str) -> nn.Module | None:
    obj: Any = root
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, nn.Module) else None


# ----- prompts -----
def mask_prompt(levels: Iterable[int], mask_token: str, prefix: str = "It was") -> str:
    """HierVerb's template head: one "<k> level: [MASK]" per entry of `levels` (1-based), then a full stop."""
    parts = " ".join(f"{k} level: {mask_token}" for k in levels)
    return f"{prefix} {parts}."


class PromptEncoder:
    """Token ids of `<specials> prompt text <specials>`, truncating only the text so the masks always survive."""

    def __init__(self, tokenizer: Any, prompt: str, max_length: int = 128):
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.max_length = int(max_length)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        full = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        start = _find_sublist(full, prompt_ids)
        if start < 0:
            raise ValueError("cannot locate the prompt inside the tokenizer's special-token framing")
        self.head = full[:start]
        self.tail = full[start + len(prompt_ids) :]
        self.prompt_ids = list(prompt_ids)
        mask_id = tokenizer.mask_token_id
        if mask_id is None:
            raise ValueError("the tokenizer has no mask token")
        self.mask_positions = [len(self.head) + i for i, t in enumerate(prompt_ids) if t == mask_id]
        if not self.mask_positions:
            raise ValueError("the prompt contains no mask token")
        self.text_budget = self.max_length - len(self.head) - len(self.tail) - len(self.prompt_ids)
        if self.text_budget < 1:
            raise ValueError(f"max_length {self.max_length} leaves no room for text after the prompt")
        # Cut very long texts by characters before tokenising (a token covers far fewer than 24 characters).
        self.char_limit = max(256, self.text_budget * 24)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """One id list per text (special tokens included, unpadded)."""
        if not len(texts):
            return []
        cut = [str(t)[: self.char_limit] for t in texts]
        text_ids = self.tokenizer(cut, add_special_tokens=False, truncation=True, max_length=self.text_budget)[
            "input_ids"
        ]
        prefix = self.head + self.prompt_ids
        return [prefix + ids + self.tail for ids in text_ids]


def _find_sublist(haystack: Sequence[int], needle: Sequence[int]) -> int:
    n = len(needle)
    for i in range(len(haystack) - n + 1):
        if list(haystack[i : i + n]) == list(needle):
            return i
    return -1


def collate(ids_list: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask) long tensors."""
    width = max(len(ids) for ids in ids_list)
    input_ids = torch.full((len(ids_list), width), int(pad_id), dtype=torch.long)
    attention = torch.zeros((len(ids_list), width), dtype=torch.long)
    for row, ids in enumerate(ids_list):
        input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        attention[row, : len(ids)] = 1
    return input_ids, attention


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first) to cut padding; callers restore order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), max(1, batch_size))]


def states_at(hidden: torch.Tensor, positions: Sequence[int]) -> torch.Tensor:
    """Hidden states at fixed positions: (batch, len(positions), hidden)."""
    return hidden[:, list(positions), :]


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the hidden states over real tokens: (batch, hidden)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


# ----- label vectors -----
def _readable(name: str) -> str:
    """Label names like "comp.sys.mac.hardware" or "machine_learning" read better with spaces."""
    return re.sub(r"[._/\-]+", " ", name).strip() or name


def label_name_vectors(
    plm: BasePLM, hierarchy: Hierarchy, mode: str = "tokens", label_texts: dict | None = None
) -> list[torch.Tensor]:
    """One vector per node (hidden size): mean input embedding of the name's tokens ("tokens"; with [CLS]/[SEP]
    as HierVerb's code does: "tokens_special") or the mean-pooled encoding of "name (path)" ("sentence").

    `label_texts` (node index -> extra text, e.g. a description and class-indicative terms) is appended to
    the node's name, so its words shape the starting vector too."""
    tokenizer = plm.tokenizer
    extra = {int(k): str(v) for k, v in (label_texts or {}).items() if v}
    names = [_readable(n) for n in hierarchy.names]
    if mode == "sentence":
        texts = [
            f"{names[i]} ({' > '.join(_readable(n) for n in hierarchy.path_names(hierarchy.path_to(i)))})"
            + (f": {extra[i]}" if i in extra else "")
            for i in range(len(names))
        ]
        enc = tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
        with torch.inference_mode():
            hidden = plm.encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
            pooled = mean_pool(hidden, enc["attention_mask"])
        # Rescale to the typical norm of a token embedding so the logits start on the same scale as "tokens".
        scale = plm.input_embeddings().norm(dim=1).mean() / pooled.norm(dim=1).clamp(min=1e-6)
        return [row.clone() for row in pooled * scale.unsqueeze(1)]
    table = plm.input_embeddings()
    out = []
    for i, name in enumerate(names):
        text = f"{name} {extra[i]}" if i in extra else name
        ids = tokenizer(text, add_special_tokens=(mode == "tokens_special"))["input_ids"]
        if not ids:
            ids = [tokenizer.unk_token_id or 0]
        out.append(table[torch.tensor(ids, dtype=torch.long)].mean(dim=0).clone())
    return out


def mix_children_mean(
    vectors: list[torch.Tensor], hierarchy: Hierarchy, *, own: float = 1.0, children: float = 1.0
) -> list[torch.Tensor]:
    """Bottom-up: v_parent = own * v_parent + children * mean(v_children), deepest parents first so a parent
    uses its children's mixed vectors (HierVerb `use_hier_mean`: 1, 1; HierICRF's variant: 0.75, 0.25)."""
    out = list(vectors)
    for d in range(hierarchy.n_levels - 2, -1, -1):
        for node in hierarchy.levels[d]:
            kids = hierarchy.children[node]
            if kids:
                out[node] = own * out[node] + children * torch.stack([out[c] for c in kids]).mean(dim=0)
    return out


# ----- training recipe -----
def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def is_no_decay(name: str) -> bool:
    """Bias and LayerNorm parameters get no weight decay (BERT recipe)."""
    parts = name.lower().split(".")
    return parts[-1] == "bias" or any(p == "norm" or "layernorm" in p or "layer_norm" in p for p in parts)


def optimizer_groups(
    named: Iterable[tuple[str, nn.Parameter]], *, lr: float, weight_decay: float
) -> list[dict[str, Any]]:
    """Two AdamW parameter groups (decay / no decay) at one learning rate; frozen parameters are skipped."""
    decay, no_decay = [], []
    for name, param in named:
        if not param.requires_grad:
            continue
        (no_decay if is_no_decay(name) else decay).append(param)
    groups = []
    if decay:
        groups.append({"params": decay, "lr": lr, "weight_decay": weight_decay})
    if no_decay:
        groups.append({"params": no_decay, "lr": lr, "weight_decay": 0.0})
    return groups


class LinearFactor:
    """The learning-rate factor at each step: linear warm-up from 0 over `warm` steps, then linear decay to 0 at
    `total`. `end_at(step, total)` moves the end earlier from `step` on without a jump: a decay goes on from the
    factor it has reached, a warm-up shrinks in proportion and then decays to the new end."""

    def __init__(self, total: int, warm: int = 0):
        self.total = max(1, int(total))
        self.warm = max(0, min(int(warm), self.total - 1))
        self.kink: tuple[int, float] | None = None  # (step, factor) where a shortened decay starts

    def __call__(self, step: int) -> float:
        if step < self.warm:
            return (step + 1) / (self.warm + 1)
        if self.kink is not None and step >= self.kink[0]:
            start, factor = self.kink
            return max(0.0, factor * (self.total - step) / max(1, self.total - start))
        return max(0.0, (self.total - step) / max(1, self.total - self.warm))

    def end_at(self, step: int, total: int) -> None:
        total = max(int(step) + 1, int(total))
        if total >= self.total:
            return
        if step < self.warm:
            self.warm = min(self.warm, max(int(step), int(round(self.warm * total / self.total))), total - 1)
        else:
            self.kink = (int(step), self(step))
        self.total = total


def linear_schedule(
    optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int = 0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up from 0 over `warmup_steps` (none by default), then linear decay to 0 at `total_steps`. The
    scheduler's `lr_lambdas[0]` is the `LinearFactor`; its `end_at` shortens the schedule."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, LinearFactor(total_steps, warmup_steps))


def mask_tokens_for_mlm(
    input_ids: torch.Tensor, tokenizer: Any, *, probability: float = 0.15, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking for the MLM regulariser: 15% of non-special tokens; 80% -> [MASK], 10% random, 10% kept.

    Returns (masked input ids, labels with -100 everywhere else). Special tokens (incl. the prompt's masks and
    padding) are never chosen."""
    labels = input_ids.clone()
    special = torch.isin(input_ids, torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=input_ids.dtype))
    probs = torch.full(input_ids.shape, probability)
    probs.masked_fill_(special, 0.0)
    chosen = torch.bernoulli(probs, generator=generator).bool()
    labels[~chosen] = -100
    masked = input_ids.clone()
    to_mask = torch.bernoulli(torch.full(input_ids.shape, 0.8), generator=generator).bool() & chosen
    masked[to_mask] = int(tokenizer.mask_token_id)
    to_random = torch.bernoulli(torch.full(input_ids.shape, 0.5), generator=generator).bool() & chosen & ~to_mask
    random_ids = torch.randint(len(tokenizer), input_ids.shape, dtype=input_ids.dtype, generator=generator)
    masked[to_random] = random_ids[to_random]
    return masked, labels
