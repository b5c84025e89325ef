"""HierVerb (Ji et al., ACL 2023) for sentence encoders and for MLM checkpoints (strategy "hierverb").

`features="pooled"` (the default for an encoder without an MLM head, such as all-MiniLM-L6-v2): the document
is encoded the way the sentence encoder was trained, with its own pooling (its sentence-transformers config;
mean by default), L2-normalised. Two verbalizers score that one vector: whole-path vectors (one per
root-to-node path) and per-level label vectors, all initialised from the embeddings of the whole path texts
("comp graphics"; + description and terms, see zeroshot.path_texts), logits = (features . vector) / temperature.
So at step 0 the path verbalizer IS the flat zero-shot classifier (zeroshot.py), and fine-tuning starts from
it. Loss = path CE + level_weight x per-level CE (+ hcc_weight x HCC + fhc_weight x FHC, off by default);
predictions come from the path softmax as max-marginals per level. Recipe (measured outside htc on 20
Newsgroups, 0.523 / 0.597 / 0.691 exact path at K = 1 / 4 / 16 vs 0.324 / 0.528 / 0.686 with a random head):
AdamW, encoder lr 5e-5, verbalizer lr 1e-3, 10 % warm-up then linear decay, batch 8, 256 tokens, epochs
40 / 25 / 15 / 8 / 4 for up to 1 / 4 / 16 / 64 / more documents per path (`epochs="auto"`).

`features="mask"` (the default when the checkpoint has a trained MLM head, e.g. a user's BERT) is the
paper's design:

Input: "It was 1 level: [MASK] 2 level: [MASK]. <text>" (prompt before the text; only the text is truncated).
Level l logits = W_l . transform(h_mask_l) (+ b_l). `transform` is the checkpoint's MLM-head transform when it
has one, else an identity-initialised dense + LayerNorm that is learned: one code path, chosen by what
`load_plm` finds. W_l starts from the label names (plus `label_texts`: description and terms, when given) (mean of their token embeddings, or a sentence embedding of
name and path, or "prompt": the transformed [MASK] state when the text is the node's path) mixed bottom-up with
the children's mean (HierVerb `use_hier_mean`). `label_init="auto"` uses the paper's token-embedding init when
the checkpoint has an MLM head (whose transform maps mask states into the token-embedding space) and "prompt"
otherwise (token embeddings and mask states of an encoder without that head are unrelated: zero-shot at chance).
Loss = [lm_alpha * CE + (1 - lm_alpha) * MLM when an MLM head exists and `lm_training`] + hcc_weight * HCC
+ fhc_weight * FHC (see `losses.py`); with `dropout_views` every training example appears twice per batch.

`fit(..., dev=(dev_texts, dev_paths))` turns on early stopping on dev macro-F1 (micro-F1 breaks ties).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import torch
from torch import nn

from classifiers.engine import losses
from classifiers.engine.base import (
    HierarchicalClassifier,
    ProgressFn,
    cancel_checker,
    decode_scores,
    progress_note,
)
from classifiers.engine.devices import autocast, needs_grad_scaler, resolve_device
from classifiers.engine.flat_paths import paths_to_levels
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi
from classifiers.engine.plm import (
    BasePLM,
    PromptEncoder,
    collate,
    default_encoder_path,
    label_name_vectors,
    length_sorted_batches,
    linear_schedule,
    load_plm,
    mask_prompt,
    mask_tokens_for_mlm,
    mean_pool,
    mix_children_mean,
    optimizer_groups,
    seed_everything,
    states_at,
)

LABEL_INITS = ("auto", "tokens", "tokens_special", "sentence", "prompt")
FEATURES = ("auto", "pooled", "mask")


#: The clock `time_limit` is measured on (a module attribute, so a test can stand in a slower machine).
clock = time.perf_counter
#: Steps timed before `time_limit` may shorten the schedule.
TIMED_STEPS = 4


def auto_epochs(per_path: float) -> int:
    """Epochs for `epochs="auto"` from the mean number of training documents per gold path."""
    for limit, epochs in ((1, 40), (4, 25), (16, 15), (64, 8)):
        if per_path <= limit:
            return epochs
    return 4


class PooledVerbNet(nn.Module):
    """Encoder + pooling + whole-path and per-level label vectors over the L2-normalised pooled state."""

    def __init__(
        self,
        encoder: nn.Module,
        pooling: str,
        level_sizes: Sequence[int],
        n_paths: int,
        hidden: int,
        scale: float,
        bias: bool,
    ):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.scale = float(scale)
        self.path_vectors = nn.Parameter(torch.zeros(n_paths, hidden))
        self.path_bias = nn.Parameter(torch.zeros(n_paths)) if bias else None
        self.label_vectors = nn.ParameterList([nn.Parameter(torch.zeros(n, hidden)) for n in level_sizes])
        self.label_bias = nn.ParameterList([nn.Parameter(torch.zeros(n)) for n in level_sizes]) if bias else None

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(batch, hidden) pooled states, float32 and L2-normalised (what the sentence encoder outputs)."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        vec = hidden[:, 0] if self.pooling == "cls" else mean_pool(hidden, attention_mask)
        return torch.nn.functional.normalize(vec, p=2, dim=1)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """(path logits, per-level logits, pooled features)."""
        feats = self.pooled(input_ids, attention_mask)
        path_logits = self.scale * feats @ self.path_vectors.float().T
        if self.path_bias is not None:
            path_logits = path_logits + self.path_bias
        logits = []
        for level, vectors in enumerate(self.label_vectors):
            out = self.scale * feats @ vectors.float().T
            if self.label_bias is not None:
                out = out + self.label_bias[level]
            logits.append(out)
        return path_logits, logits, feats


class HierVerbNet(nn.Module):
    """Encoder + mask transform + per-level label vectors."""

    def __init__(self, encoder: nn.Module, transform: nn.Module, level_sizes: Sequence[int], hidden: int, bias: bool):
        super().__init__()
        self.encoder = encoder
        self.transform = transform
        self.label_vectors = nn.ParameterList([nn.Parameter(torch.zeros(n, hidden)) for n in level_sizes])
        self.label_bias = nn.ParameterList([nn.Parameter(torch.zeros(n)) for n in level_sizes]) if bias else None

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, mask_positions: Sequence[int]
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """(per-level logits, raw [MASK] hidden states of shape (batch, n_levels, hidden))."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        states = states_at(hidden, mask_positions)
        features = self.transform(states)
        logits = []
        for level, vectors in enumerate(self.label_vectors):
            out = features[:, level, :] @ vectors.T
            if self.label_bias is not None:
                out = out + self.label_bias[level]
            logits.append(out)
        return logits, states


class HierVerbClassifier(HierarchicalClassifier):
    """See the module docstring. Parameters left at None / "auto" resolve by `features`:

    - `features`: "auto" = "mask" when the checkpoint has a trained MLM head, else "pooled".
    - `epochs`: "auto" = `auto_epochs(documents per gold path)`; an int is used as given.
    - `lr_verbalizer`: 1e-3 pooled, 1e-4 mask. `warmup`: share of the steps with a linear warm-up.
    - `hcc_weight`, `fhc_weight`, `dropout_views`: 0 / 0 / off pooled; 1.0 / 0.01 / on mask (HierVerb's).
    - `decode`: "auto" = "top_down" pooled (the most probable path), "argmax" mask.
    - `temperature` (pooled): logits are cosine-like scores / temperature, as zero-shot's.
    - `device`: "auto" (CUDA, then MPS, then CPU) or a device name; bf16/fp16 autocast on CUDA.
    - `time_limit`: seconds the training may take (None: no limit). After a few steps the seconds a step takes so
      far (dev evaluations included) are measured; where the planned steps would not end in time, the schedule
      is shortened to end there (`time_limited_` says from how many steps to how many).
    """

    strategy_name = "hierverb"
    supports_growth = True
    multi_path = True
    uses_torch = True

    def __init__(
        self,
        *,
        encoder_path: str | None = None,
        features: str = "auto",
        max_length: int = 256,
        batch_size: int = 8,
        eval_batch_size: int = 32,
        epochs: int | str = "auto",
        lr: float = 5e-5,
        lr_verbalizer: float | None = None,
        lr_transform: float | None = None,
        warmup: float = 0.1,
        weight_decay: float = 0.01,
        max_grad_norm: float = 1.0,
        patience: int = 3,
        seed: int = 550,
        shuffle: bool = True,
        decode: str = "auto",
        multi_label: bool = False,
        threshold: float = 0.5,
        temperature: float = 0.05,
        level_weight: float = 1.0,
        hcc_weight: float | None = None,
        fhc_weight: float | None = None,
        fhc_alpha: float = 1.0,
        dropout_views: bool | None = None,
        lm_training: bool = False,
        lm_alpha: float = 0.999,
        label_init: str = "auto",
        use_hier_mean: bool = True,
        verbalizer_bias: bool = False,
        lora: bool = False,
        lora_r: int = 8,
        lora_alpha: int = 16,
        lora_dropout: float = 0.1,
        lora_target_modules: list[str] | None = None,
        prompt_prefix: str = "It was",
        label_texts: dict | None = None,
        device: str = "auto",
        time_limit: float | None = None,
    ):
        self.encoder_path = encoder_path
        self.features = features
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_verbalizer = lr_verbalizer
        self.lr_transform = lr_transform
        self.warmup = warmup
        self.time_limit = time_limit
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.seed = seed
        self.shuffle = shuffle
        self.decode = decode
        self.multi_label = multi_label
        self.threshold = threshold
        self.temperature = temperature
        self.level_weight = level_weight
        self.hcc_weight = hcc_weight
        self.fhc_weight = fhc_weight
        self.fhc_alpha = fhc_alpha
        self.dropout_views = dropout_views
        self.lm_training = lm_training
        self.lm_alpha = lm_alpha
        self.label_init = label_init
        self.use_hier_mean = use_hier_mean
        self.verbalizer_bias = verbalizer_bias
        self.lora = lora
        self.lora_r = lora_r
        self.lora_alpha = lora_alpha
        self.lora_dropout = lora_dropout
        self.lora_target_modules = lora_target_modules
        self.prompt_prefix = prompt_prefix
        self.label_texts = label_texts  # node index -> description / terms, read only to initialise the vectors
        self.device = device

    # ----- resolved settings -----
    @property
    def pooled_(self) -> bool:
        return getattr(self, "features_", "mask") == "pooled"

    def _resolve_features(self, plm: BasePLM) -> str:
        if self.features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, not {self.features!r}")
        if self.features == "auto":
            return "mask" if plm.has_mlm_head else "pooled"
        return self.features

    def _by_features(self, value, pooled, mask):
        if value is not None:
            return value
        return pooled if self.pooled_ else mask

    @property
    def hcc_weight_(self) -> float:
        return float(self._by_features(self.hcc_weight, 0.0, 1.0))

    @property
    def fhc_weight_(self) -> float:
        return float(self._by_features(self.fhc_weight, 0.0, 0.01))

    @property
    def dropout_views_(self) -> bool:
        return bool(self._by_features(self.dropout_views, False, True))

    @property
    def lr_verbalizer_(self) -> float:
        return float(self._by_features(self.lr_verbalizer, 1e-3, 1e-4))

    @property
    def decode_(self) -> str:
        return self.decode if self.decode != "auto" else ("top_down" if self.pooled_ else "argmax")

    def epochs_for(self, paths: Sequence) -> int:
        """The number of epochs `fit` runs on these gold paths (`epochs`, or `auto_epochs`)."""
        if self.epochs != "auto":
            return int(self.epochs)
        ends = [p[-1] for doc in as_multi(paths) for p in doc if p]
        return auto_epochs(len(ends) / max(1, len(set(ends))))

    # ----- construction -----
    def _build(self, plm: BasePLM, hierarchy: Hierarchy, *, for_training: bool) -> None:
        """Create `net_` (and `prompt_`, `mlm_model_` for mask features) from the loaded checkpoint, on the CPU."""
        self.mlm_model_ = None
        if for_training and self.lm_training and plm.has_mlm_head and not self.pooled_:
            self.mlm_model_ = plm.fresh_mlm_model()
            encoder = self.mlm_model_.base_model
        else:
            encoder = plm.fresh_encoder()
        if self.lora:
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=int(self.lora_r),
                lora_alpha=int(self.lora_alpha),
                lora_dropout=float(self.lora_dropout),
                target_modules=list(self.lora_target_modules or ["query", "value"]),
                bias="none",
            )
            encoder = get_peft_model(encoder, config)
        sizes = [len(nodes) for nodes in hierarchy.levels]
        self.tokenizer_ = plm.tokenizer
        if self.pooled_:
            from classifiers.engine.embeddings import pooling_mode

            if float(self.temperature) <= 0:
                raise ValueError("temperature must be positive")
            self.net_ = PooledVerbNet(
                encoder,
                pooling_mode(plm.path),
                sizes,
                len(hierarchy),
                plm.hidden_size,
                1.0 / float(self.temperature),
                bool(self.verbalizer_bias),
            )
            self.prompt_ = None
            return
        self.net_ = HierVerbNet(encoder, plm.new_transform(), sizes, plm.hidden_size, bool(self.verbalizer_bias))
        prompt = mask_prompt(range(1, hierarchy.n_levels + 1), plm.tokenizer.mask_token, self.prompt_prefix)
        self.prompt_ = PromptEncoder(plm.tokenizer, prompt, self.max_length)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text: the prompt + text (mask features) or the text alone (pooled), truncated."""
        if self.prompt_ is not None:
            return self.prompt_.encode(list(texts))
        if not len(texts):
            return []
        cut = [str(t)[: int(self.max_length) * 24] for t in texts]
        return self.tokenizer_(cut, truncation=True, max_length=int(self.max_length))["input_ids"]

    def _init_label_vectors(self, plm: BasePLM, hierarchy: Hierarchy) -> None:
        """Label-name vectors, then (use_hier_mean) parent += mean(children), deepest level first."""
        vectors = self._label_vectors_for(plm, hierarchy)
        with torch.no_grad():
            for d, nodes in enumerate(hierarchy.levels):
                self.net_.label_vectors[d].copy_(torch.stack([vectors[n] for n in nodes]))
            if self.pooled_:
                self.net_.path_vectors.copy_(torch.stack(vectors))

    def _label_vectors_for(self, plm: BasePLM, hierarchy: Hierarchy) -> list[torch.Tensor]:
        """The initial label vector of every node of `hierarchy` (by node index): for pooled features the
        embedding of its whole path text; for mask features as `label_init` chooses."""
        if self.pooled_:
            return self._path_text_vectors(hierarchy)
        if self.label_init not in LABEL_INITS:
            raise ValueError(f"label_init must be one of {LABEL_INITS}, not {self.label_init!r}")
        mode = self.label_init
        if mode == "auto":  # the paper's init needs the MLM head that ties hidden states to token embeddings
            mode = "tokens" if plm.has_mlm_head else "prompt"
        if mode == "prompt":
            vectors = self._prompt_label_vectors(plm, hierarchy)
        else:
            vectors = label_name_vectors(plm, hierarchy, mode, self.label_texts)
        if self.use_hier_mean:
            vectors = mix_children_mean(vectors, hierarchy)
        return vectors

    def _path_text_vectors(self, hierarchy: Hierarchy) -> list[torch.Tensor]:
        """Pooled, normalised embeddings of every node's whole path text, by the network's own encoder."""
        from classifiers.engine.zeroshot import path_texts

        ids = self.token_ids(path_texts(hierarchy, self.label_texts))
        out = torch.zeros((len(ids), self.net_.path_vectors.shape[1]))
        was_training = self.net_.training
        self.net_.eval()
        device = self._device()
        try:
            with torch.inference_mode():
                for rows in length_sorted_batches([len(x) for x in ids], int(self.eval_batch_size)):
                    input_ids, attention = collate([ids[i] for i in rows], self.tokenizer_.pad_token_id or 0)
                    out[rows] = self.net_.pooled(input_ids.to(device), attention.to(device)).float().cpu()
        finally:
            self.net_.train(was_training)
        return [row.clone() for row in out]

    def _device(self) -> torch.device:
        return next(self.net_.parameters()).device

    def _prompt_label_vectors(self, plm: BasePLM, hierarchy: Hierarchy) -> list[torch.Tensor]:
        """label_init="prompt": transform(h_mask) at the node's level when the text is the node's path
        ("sports > football"), rescaled to the mean token-embedding norm. Lives in the space the verbalizer
        scores, so it gives a zero-shot start for checkpoints without an MLM head."""
        extra = {int(k): str(v) for k, v in (self.label_texts or {}).items() if v}
        texts = [" > ".join(hierarchy.path_names(hierarchy.path_to(i))) for i in range(len(hierarchy))]
        texts = [f"{t}: {extra[i]}" if i in extra else t for i, t in enumerate(texts)]
        ids = self.prompt_.encode(texts)
        input_ids, attention = collate(ids, self.tokenizer_.pad_token_id or 0)
        device = self._device()
        self.net_.eval()
        with torch.inference_mode():
            hidden = self.net_.encoder(input_ids=input_ids.to(device), attention_mask=attention.to(device))
            feats = self.net_.transform(states_at(hidden.last_hidden_state, self.prompt_.mask_positions)).cpu()
        rows = torch.stack([feats[i, hierarchy.depth[i] - 1] for i in range(len(hierarchy))])
        rows = rows * (plm.input_embeddings().norm(dim=1).mean() / rows.norm(dim=1, keepdim=True).clamp(min=1e-6))
        return [row.clone() for row in rows]

    # ----- training -----
    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Train on `texts` with gold `paths`; returns self. `epochs=0` keeps the initial label vectors (for
        pooled features: exactly the zero-shot classifier)."""
        if len(texts) != len(paths):
            raise ValueError("texts and paths differ in length")
        if not len(texts):
            raise ValueError("no training documents")
        if self.decode not in ("auto", "argmax", "top_down", "best_path"):
            raise ValueError(f"unknown decoding mode {self.decode!r}")
        seed_everything(int(self.seed))
        self.encoder_path_ = str(self.encoder_path or default_encoder_path())
        plm = load_plm(self.encoder_path_)
        self.hierarchy_ = hierarchy
        self.has_mlm_head_ = plm.has_mlm_head
        self.features_ = self._resolve_features(plm)
        self.device_ = resolve_device(self.device)
        self._build(plm, hierarchy, for_training=True)
        self._to_device()
        self._init_label_vectors(plm, hierarchy)
        return self._train(texts, paths, dev=dev, progress=progress, epochs=self.epochs_for(paths))

    def _to_device(self) -> None:
        self.net_.to(self.device_)
        if self.mlm_model_ is not None:
            self.mlm_model_.to(self.device_)

    def _train(self, texts: Sequence[str], paths: Sequence, *, dev, progress: ProgressFn, epochs: int):
        """The training loop on the built network (`fit`, and the growth update's fine-tuning); returns self."""
        hierarchy = self.hierarchy_
        device = self._device()
        gold = as_multi(paths)
        targets = [t.to(device) for t in losses.level_targets(gold, hierarchy, multi_label=self.multi_label)]
        path_targets = _path_targets(gold, len(hierarchy), multi_label=self.multi_label).to(device)
        maps = [m.to(device) for m in losses.parent_maps(hierarchy)]
        childless = [m.to(device) for m in losses.childless_masks(hierarchy)]
        ids = self.token_ids(list(texts))
        dev_data = _dev_pair(dev)

        optimizer = torch.optim.AdamW(self._param_groups())
        steps_per_epoch = math.ceil(len(ids) / max(1, int(self.batch_size)))
        total = steps_per_epoch * max(0, int(epochs))
        scheduler = linear_schedule(optimizer, total, warmup_steps=int(round(float(self.warmup or 0) * total)))
        scaler = torch.amp.GradScaler("cuda") if needs_grad_scaler(str(device)) else None
        rng = np.random.RandomState(int(self.seed))
        mlm_gen = torch.Generator().manual_seed(int(self.seed))
        trainable = [p for p in self._all_modules_parameters() if p.requires_grad]
        best_key, best_state, bad_epochs, step = None, None, 0, 0
        self.history_: list[dict[str, float]] = []
        self.time_limited_: tuple[int, int] | None = None
        started = clock()
        for epoch in range(int(epochs)):
            if step >= total:  # the time limit ended the schedule
                break
            note = f"Training epoch {epoch + 1} of {epochs}"
            if self.time_limited_:
                note += f" (shortened to {total} of {self.time_limited_[0]} steps by the time limit)"
            progress_note(progress, note)
            self._train_mode(True)
            order = rng.permutation(len(ids)) if self.shuffle else np.arange(len(ids))
            epoch_loss, batches = 0.0, 0
            for start in range(0, len(order), int(self.batch_size)):
                if step >= total:
                    break
                rows = [int(i) for i in order[start : start + int(self.batch_size)]]
                if self.dropout_views_ and self.fhc_weight_:
                    rows = [i for i in rows for _ in (0, 1)]  # two dropout views of each example, side by side
                with autocast(str(device)):
                    loss = self._batch_loss(ids, rows, targets, path_targets, maps, childless, mlm_gen)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, float(self.max_grad_norm))
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                epoch_loss += float(loss.detach())
                step, batches = step + 1, batches + 1
                total = self._fit_time_limit(step, total, clock() - started, scheduler)
                if progress is not None:
                    progress(step, total)
            record = {"epoch": epoch + 1, "loss": epoch_loss / max(1, batches)}
            if dev_data is not None:
                key = self._dev_key(*dev_data, progress=progress)
                record.update(dev_macro_f1=key[0], dev_micro_f1=key[1])
                if best_key is None or key > best_key:
                    best_key, bad_epochs = key, 0
                    best_state = [p.detach().clone() for p in trainable]
                else:
                    bad_epochs += 1
            self.history_.append(record)
            if dev_data is not None and bad_epochs >= int(self.patience):
                break
        if best_state is not None:
            with torch.no_grad():
                for param, saved in zip(trainable, best_state, strict=True):
                    param.copy_(saved)
        if progress is not None and step < total:
            progress(total, total)
        self.mlm_model_ = None  # only needed for the regulariser
        self._train_mode(False)
        return self

    def _fit_time_limit(self, step: int, total: int, elapsed: float, scheduler) -> int:
        """The steps the training may take after `step` steps in `elapsed` seconds: `total`, or fewer where the
        time limit comes first (the learning-rate schedule then decays to 0 at the new end)."""
        if self.time_limit is None or step < TIMED_STEPS or step >= total:
            return total
        per_step = elapsed / step
        affordable = step + max(0, int((float(self.time_limit) - elapsed) / max(per_step, 1e-9)))
        if affordable >= total:
            return total
        planned = self.time_limited_[0] if self.time_limited_ else total
        scheduler.lr_lambdas[0].end_at(step, affordable)
        self.time_limited_ = (planned, affordable)
        return affordable

    def _all_modules_parameters(self) -> list[nn.Parameter]:
        seen, out = set(), []
        modules = [self.net_] + ([self.mlm_model_] if self.mlm_model_ is not None else [])
        for module in modules:
            for param in module.parameters():
                if id(param) not in seen:
                    seen.add(id(param))
                    out.append(param)
        return out

    def _param_groups(self) -> list[dict[str, Any]]:
        """Encoder (+ MLM head) at `lr`, label vectors at `lr_verbalizer`, the transform (mask features) at
        `lr_transform` (default: `lr` when it comes from a pretrained MLM head, as in HierVerb; `lr_verbalizer`
        when it is freshly initialised); no weight decay on bias/LayerNorm."""
        plm_module = self.mlm_model_ if self.mlm_model_ is not None else self.net_.encoder
        groups = optimizer_groups(plm_module.named_parameters(), lr=self.lr, weight_decay=self.weight_decay)
        lr_verbalizer = self.lr_verbalizer_
        if not self.pooled_:
            lr_transform = self.lr_transform
            if lr_transform is None:
                lr_transform = self.lr if self.has_mlm_head_ else lr_verbalizer
            groups += optimizer_groups(
                self.net_.transform.named_parameters(), lr=lr_transform, weight_decay=self.weight_decay
            )
        verbalizer = [(f"label_vectors.{i}", p) for i, p in enumerate(self.net_.label_vectors)]
        if self.net_.label_bias is not None:
            verbalizer += [(f"label_bias.{i}.bias", p) for i, p in enumerate(self.net_.label_bias)]
        if self.pooled_:
            verbalizer.append(("path_vectors", self.net_.path_vectors))
            if self.net_.path_bias is not None:
                verbalizer.append(("path_bias.bias", self.net_.path_bias))
        groups += optimizer_groups(verbalizer, lr=lr_verbalizer, weight_decay=self.weight_decay)
        return groups

    def _train_mode(self, on: bool) -> None:
        self.net_.train(on)
        if self.mlm_model_ is not None:
            self.mlm_model_.train(on)

    def _batch_loss(self, ids, rows, targets, path_targets, maps, childless, mlm_gen) -> torch.Tensor:
        device = self._device()
        input_ids, attention = collate([ids[i] for i in rows], self.tokenizer_.pad_token_id or 0)
        input_ids, attention = input_ids.to(device), attention.to(device)
        index = torch.tensor(rows, dtype=torch.long, device=device)
        batch_targets = [t[index] for t in targets]
        if self.pooled_:
            path_logits, logits, feats = self.net_(input_ids, attention)
            states = feats.unsqueeze(1).expand(-1, len(logits), -1)
            gold = path_targets[index]
            if self.multi_label:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(path_logits.float(), gold)
            else:
                loss = torch.nn.functional.cross_entropy(path_logits.float(), gold)
            if self.level_weight:
                level_loss = losses.classification_loss(
                    [x.float() for x in logits], batch_targets, multi_label=self.multi_label
                )
                loss = loss + float(self.level_weight) * level_loss
        else:
            logits, states = self.net_(input_ids, attention, self.prompt_.mask_positions)
            logits = [x.float() for x in logits]
            loss = losses.classification_loss(logits, batch_targets, multi_label=self.multi_label)
        if self.mlm_model_ is not None:
            masked, labels = mask_tokens_for_mlm(input_ids.cpu(), self.tokenizer_, generator=mlm_gen)
            if bool((labels != -100).any()):
                lm_loss = self.mlm_model_(
                    input_ids=masked.to(device), attention_mask=attention, labels=labels.to(device)
                ).loss
                loss = self.lm_alpha * loss + (1.0 - self.lm_alpha) * lm_loss
        if self.hcc_weight_ and len(logits) > 1:
            hcc = losses.hcc_loss(
                [x.float() for x in logits], batch_targets, maps, childless, multi_label=self.multi_label
            )
            loss = loss + self.hcc_weight_ * hcc
        if self.fhc_weight_ and len(logits) > 1:
            fhc = losses.fhc_loss(states.float(), batch_targets, alpha=self.fhc_alpha, multi_label=self.multi_label)
            loss = loss + self.fhc_weight_ * fhc
        return loss

    def _dev_key(self, texts: Sequence[str], paths: Sequence, progress: ProgressFn = None) -> tuple[float, float]:
        from classifiers.engine.metrics import evaluate

        self._train_mode(False)
        try:
            # A cancel is looked at between the dev batches: a large dev split can take longer than the 5 s.
            predicted = self.predict(texts, progress=cancel_checker(progress))
            result = evaluate(as_multi(paths), predicted, self.hierarchy_)
        finally:
            self._train_mode(True)
        return float(result["macro_f1"]), float(result["micro_f1"])

    # ----- inference -----
    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """Per-level probabilities, (n_docs, n_nodes at level) in `hierarchy_.levels` order. Pooled features:
        max-marginals of the path softmax (of independent path sigmoids when `multi_label`, not renormalised);
        mask features: softmax rows, or independent sigmoids when `multi_label`."""
        ids = self.token_ids(list(texts))
        h = self.hierarchy_
        out = [np.zeros((len(ids), len(nodes)), dtype=np.float32) for nodes in h.levels]
        path_proba = np.zeros((len(ids), len(h)), dtype=np.float64) if self.pooled_ else None
        batches = length_sorted_batches([len(x) for x in ids], int(self.eval_batch_size))
        device = self._device()
        was_training = self.net_.training
        self.net_.eval()
        try:
            with torch.inference_mode(), autocast(str(device)):
                for done, rows in enumerate(batches, start=1):
                    input_ids, attention = collate([ids[i] for i in rows], self.tokenizer_.pad_token_id or 0)
                    input_ids, attention = input_ids.to(device), attention.to(device)
                    if path_proba is not None:
                        path_logits, _, _ = self.net_(input_ids, attention)
                        path_logits = path_logits.float()
                        probs = torch.sigmoid(path_logits) if self.multi_label else torch.softmax(path_logits, -1)
                        path_proba[rows] = probs.double().cpu().numpy()
                    else:
                        logits, _ = self.net_(input_ids, attention, self.prompt_.mask_positions)
                        for level, level_logits in enumerate(logits):
                            level_logits = level_logits.float()
                            probs = torch.sigmoid(level_logits) if self.multi_label else torch.softmax(level_logits, -1)
                            out[level][rows] = probs.cpu().numpy()
                    if progress is not None:
                        progress(done, len(batches))
        finally:
            self.net_.train(was_training)
        if path_proba is None:
            return out
        ends = list(range(len(h)))
        if not self.multi_label:
            return [s.astype(np.float32) for s in paths_to_levels(path_proba, ends, h)]
        node_prob = np.zeros_like(path_proba)
        for end in ends:
            for node in h.path_to(end):
                np.maximum(node_prob[:, node], path_proba[:, end], out=node_prob[:, node])
        return [node_prob[:, level].astype(np.float32) for level in h.levels]

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[list[Path]]:
        """One path per document (`decode` mode); with `multi_label`, every path whose nodes pass `threshold`
        (the longest passing prefix of each root-to-leaf path), at least the decoded best one."""
        scores = self.predict_scores(texts, progress=progress)
        decoded = decode_scores(scores, self.hierarchy_, self.decode_)
        if not self.multi_label:
            return [[p] for p in decoded]
        return [
            thresholded_paths(scores, self.hierarchy_, i, self.threshold) or [decoded[i]] for i in range(len(decoded))
        ]

    # ----- persistence -----
    def state_json(self) -> dict[str, Any]:
        return {
            "encoder_path": self.encoder_path_,
            "has_mlm_head": bool(self.has_mlm_head_),
            "features": self.features_,
            "device": str(getattr(self, "device_", "cpu")),
            "history": list(getattr(self, "history_", [])),
        }

    def state_tensors(self) -> dict[str, np.ndarray]:
        """Label vectors (+ bias), the transform, and the LoRA adapter or the whole fine-tuned encoder."""
        tensors: dict[str, torch.Tensor] = {}
        for level, vectors in enumerate(self.net_.label_vectors):
            tensors[f"verbalizer.{level}.weight"] = vectors
        if self.net_.label_bias is not None:
            for level, bias in enumerate(self.net_.label_bias):
                tensors[f"verbalizer.{level}.bias"] = bias
        if self.pooled_:
            tensors["paths.weight"] = self.net_.path_vectors
            if self.net_.path_bias is not None:
                tensors["paths.bias"] = self.net_.path_bias
        else:
            tensors.update({f"transform.{k}": v for k, v in self.net_.transform.state_dict().items()})
        if self.lora:
            from peft import get_peft_model_state_dict

            tensors.update({f"adapter.{k}": v for k, v in get_peft_model_state_dict(self.net_.encoder).items()})
        else:
            tensors.update({f"encoder.{k}": v for k, v in self.net_.encoder.state_dict().items()})
        return {k: v.detach().float().cpu().numpy() for k, v in tensors.items()}

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        self.encoder_path_ = str(state.get("encoder_path") or self.encoder_path or default_encoder_path())
        if not FsPath(self.encoder_path_).exists():
            raise FileNotFoundError(f"the base encoder {self.encoder_path_} of this model is not available")
        plm = load_plm(self.encoder_path_)
        self.has_mlm_head_ = plm.has_mlm_head
        self.history_ = list(state.get("history") or [])
        self.features_ = state.get("features", "mask")  # models saved before pooled features used [MASK] states
        self.device_ = resolve_device(self.device, fallback=True)  # loads on any machine, wherever it was trained
        self.trained_on_ = state.get("device", "cpu")
        self._build(plm, self.hierarchy_, for_training=False)
        as_torch = {k: torch.from_numpy(np.array(v)) for k, v in tensors.items()}
        with torch.no_grad():
            for level, vectors in enumerate(self.net_.label_vectors):
                vectors.copy_(as_torch[f"verbalizer.{level}.weight"])
            if self.net_.label_bias is not None:
                for level, bias in enumerate(self.net_.label_bias):
                    bias.copy_(as_torch[f"verbalizer.{level}.bias"])
            if self.pooled_:
                self.net_.path_vectors.copy_(as_torch["paths.weight"])
                if self.net_.path_bias is not None:
                    self.net_.path_bias.copy_(as_torch["paths.bias"])
        if not self.pooled_:
            self.net_.transform.load_state_dict(_strip(as_torch, "transform."))
        if self.lora:
            from peft import set_peft_model_state_dict

            result = set_peft_model_state_dict(self.net_.encoder, _strip(as_torch, "adapter."))
            if getattr(result, "unexpected_keys", None):
                raise ValueError(f"adapter keys do not fit the encoder: {result.unexpected_keys[:3]}")
        else:
            self.net_.encoder.load_state_dict(_strip(as_torch, "encoder."), strict=True)
        self.mlm_model_ = None
        self.net_.to(self.device_)
        self.net_.eval()


def _path_targets(gold: list[list[Path]], n_nodes: int, *, multi_label: bool) -> torch.Tensor:
    """Targets over the paths (named by their last node): the first gold path's end per document, or a
    multi-hot row of every gold path's end when `multi_label`."""
    if multi_label:
        out = torch.zeros((len(gold), n_nodes))
        for i, doc in enumerate(gold):
            for path in doc:
                if path:
                    out[i, int(path[-1])] = 1.0
        return out
    return torch.tensor([int(doc[0][-1]) if doc and doc[0] else losses.IGNORE for doc in gold], dtype=torch.long)


def _strip(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def _dev_pair(dev) -> tuple[list[str], list] | None:
    """Accept `(texts, paths)` or a mapping with "texts" and "paths"; None turns early stopping off."""
    if dev is None:
        return None
    if isinstance(dev, dict):
        texts, paths = dev["texts"], dev["paths"]
    else:
        texts, paths = dev
    return (list(texts), list(paths)) if len(texts) else None


def thresholded_paths(scores: list[np.ndarray], hierarchy: Hierarchy, row: int, threshold: float) -> list[Path]:
    """Maximal valid paths whose every node scores >= threshold for document `row` (no path that is a prefix
    of another one)."""
    found: set[Path] = set()
    for leaf_path in hierarchy.leaf_paths():
        prefix: list[int] = []
        for d, node in enumerate(leaf_path):
            if d >= len(scores) or scores[d][row, hierarchy.level_pos[node]] < threshold:
                break
            prefix.append(node)
        if prefix:
            found.add(tuple(prefix))
    maximal = [p for p in found if not any(len(q) > len(p) and q[: len(p)] == p for q in found)]
    return sorted(maximal)
