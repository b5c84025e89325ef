"""HierICRF (Ji et al., IJCAI 2024; methods.md §3): an iterative mask chain decoded by a linear-chain CRF.

The prompt "It was 1 level: [MASK] 2 level: [MASK] 1 level: [MASK] ... . <text>" rolls the hierarchy down and
up `iter_num` times (see `hiericrf_chain`). ONE soft verbalizer over all labels of all levels scores every mask,
giving emissions `[batch, n_masks, num_tags]`; a CRF over the chain is trained by the NLL of the gold path laid out
in chain order and decoded by Viterbi; the prediction is read from the first D tags.

`transitions`:
- "soft" (the reference): transitions are learned, nothing is forbidden, so inconsistent paths stay possible;
- "hard": moves the taxonomy and the chain pattern forbid are -inf, so every decoded path is valid.
`level_tags=True` (default) lets each mask take only tags of its level (plus, on ragged trees, a shorter path's
own last node, see `hiericrf_chain`); `False` is the reference's unrestricted chain.

CPU-minded defaults differ from the reference (lr = lr2 = lr3 = 5e-5, 20 epochs, batch 8): 5 epochs and larger
learning rates for the verbalizer and the CRF, whose transitions otherwise hardly move in a few hundred steps.
`predict_scores` gives the CRF marginals (or `score_source="emissions"`: the softmax of the emissions) at the
first D masks, one array per level in `hierarchy_.levels` order.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import torch
from torch import nn

from classifiers.engine import hiericrf_chain as chain_lib
from classifiers.engine.base import HierarchicalClassifier, ProgressFn, cancel_checker
from classifiers.engine.crf import LinearChainCRF
from classifiers.engine.devices import autocast, resolve_device
from classifiers.engine.hierarchy import Hierarchy, Path, as_multi

TRANSITION_MODES = ("soft", "hard")
SCORE_SOURCES = ("marginals", "emissions")
# Fewer text tokens than this after the prompt is refused: the chain would crowd the document out.
MIN_TEXT_TOKENS = 16


class HierICRFNet(nn.Module):
    """Encoder -> hidden states at the masks -> MLM-style transform -> one verbalizer over all tags; plus the CRF."""

    def __init__(self, encoder: nn.Module, transform: nn.Module, hidden: int, num_tags: int):
        super().__init__()
        self.encoder = encoder
        self.transform = transform
        self.verbalizer = nn.Linear(hidden, num_tags)
        self.crf = LinearChainCRF(num_tags)

    def emissions(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, positions: Sequence[int]
    ) -> torch.Tensor:
        """`[batch, n_masks, num_tags]`."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.verbalizer(self.transform(hidden[:, list(positions), :]))


class HierICRFClassifier(HierarchicalClassifier):
    strategy_name = "hiericrf"
    uses_torch = True

    def __init__(
        self,
        *,
        encoder_path: str | None = None,
        iter_num: int = 5,
        transitions: str = "soft",
        level_tags: bool = True,
        score_source: str = "marginals",
        max_length: int = 128,
        batch_size: int = 8,
        eval_batch_size: int = 32,
        epochs: int = 5,
        lr: float = 5e-5,
        lr_verbalizer: float = 1e-3,
        lr_crf: float = 1e-2,
        weight_decay: float = 0.01,
        max_grad_norm: float = 1.0,
        patience: int = 3,
        seed: int = 550,
        freeze_encoder: bool = False,
        label_init: str = "tokens",
        use_hier_mean: bool = False,
        prompt_prefix: str = "It was",
        device: str = "auto",
    ):
        self.encoder_path = encoder_path
        self.iter_num = iter_num
        self.transitions = transitions
        self.level_tags = level_tags
        self.score_source = score_source
        self.max_length = max_length
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.epochs = epochs
        self.lr = lr
        self.lr_verbalizer = lr_verbalizer
        self.lr_crf = lr_crf
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.seed = seed
        self.freeze_encoder = freeze_encoder
        self.label_init = label_init
        self.use_hier_mean = use_hier_mean
        self.prompt_prefix = prompt_prefix
        self.device = device

    # ----- construction -----
    def _build(self, hierarchy: Hierarchy, terminals: Sequence[Path]) -> Any:
        """Set hierarchy_, chain_, terminal_paths_, prompt_ and net_ (untrained); returns the loaded PLM."""
        from classifiers.engine.plm import PromptEncoder, load_plm, mask_prompt

        if self.transitions not in TRANSITION_MODES:
            raise ValueError(f"transitions must be one of {TRANSITION_MODES}, not {self.transitions!r}")
        if self.score_source not in SCORE_SOURCES:
            raise ValueError(f"score_source must be one of {SCORE_SOURCES}, not {self.score_source!r}")
        if hierarchy.n_levels < 1:
            raise ValueError("the hierarchy is empty")
        plm = load_plm(self.encoder_path)
        self.hierarchy_ = hierarchy
        self.chain_ = chain_lib.chain_levels(hierarchy.n_levels, int(self.iter_num))
        self.terminal_paths_ = [tuple(p) for p in terminals]
        prompt = mask_prompt(self.chain_, plm.tokenizer.mask_token, prefix=self.prompt_prefix)
        hint = f"the {len(self.chain_)}-mask prompt leaves too little of max_length={self.max_length} for the text"
        try:
            self.prompt_ = PromptEncoder(plm.tokenizer, prompt, self.max_length)
        except ValueError as exc:
            raise ValueError(f"{hint}: raise max_length or lower iter_num") from exc
        if self.prompt_.text_budget < MIN_TEXT_TOKENS:
            raise ValueError(f"{hint} ({self.prompt_.text_budget} tokens): raise max_length or lower iter_num")
        if len(self.prompt_.mask_positions) != len(self.chain_):
            raise ValueError("the prompt's mask count does not match the chain")
        self.net_ = HierICRFNet(plm.fresh_encoder(), plm.new_transform(), plm.hidden_size, len(hierarchy))
        self._set_constraints()
        self._cache: tuple[str, np.ndarray] | None = None
        return plm

    def _set_constraints(self) -> None:
        k = len(self.hierarchy_)
        if self.transitions == "hard":
            allowed, start = chain_lib.hard_constraints(self.chain_, self.terminal_paths_, k)
        elif self.level_tags:
            allowed, start = chain_lib.level_constraints(self.chain_, self.terminal_paths_, k)
        else:
            self.allowed_ = self.start_allowed_ = None
            return
        self.allowed_, self.start_allowed_ = torch.from_numpy(allowed), torch.from_numpy(start)

    def _to_device(self, device: str) -> None:
        """Move the network and the transition constraints to `device` (batches follow per step)."""
        self.device_ = device
        self.net_.to(device)
        if self.allowed_ is not None:
            self.allowed_ = self.allowed_.to(device)
            self.start_allowed_ = self.start_allowed_.to(device)

    def _init_verbalizer(self, plm: Any) -> None:
        """Label vectors from the label names; `use_hier_mean`: parent = 0.75 itself + 0.25 mean(children)."""
        from classifiers.engine.verbalizer import label_name_vectors

        h = self.hierarchy_
        vectors = torch.stack(label_name_vectors(plm, h, self.label_init)).float()
        if self.use_hier_mean:
            for level in reversed(h.levels[:-1]):
                for node in level:
                    kids = h.children[node]
                    if kids:
                        vectors[node] = 0.75 * vectors[node] + 0.25 * vectors[kids].mean(0)
        with torch.no_grad():
            self.net_.verbalizer.weight.copy_(vectors)
            self.net_.verbalizer.bias.zero_()

    # ----- training -----
    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Train encoder, verbalizer and CRF by the chain NLL; returns self. `dev=(texts, paths)` selects the
        epoch with the best dev exact-path accuracy and stops after `patience` epochs without gain."""
        from classifiers.engine.plm import linear_schedule, optimizer_groups, seed_everything

        if len(texts) != len(paths):
            raise ValueError("texts and paths differ in length")
        gold = [p[0] if p else () for p in as_multi(paths)]
        keep = [i for i, p in enumerate(gold) if p and hierarchy.is_valid_path(p)]
        if not keep:
            raise ValueError("no training document has a valid gold path")
        seed_everything(int(self.seed))
        plm = self._build(hierarchy, chain_lib.terminal_paths(hierarchy, (gold[i] for i in keep)))
        self._init_verbalizer(plm)
        self._to_device(resolve_device(self.device))
        ids = self.prompt_.encode([str(texts[i]) for i in keep])
        tags = torch.tensor([chain_lib.chain_sequence(gold[i], self.chain_) for i in keep], dtype=torch.long)
        tags = tags.to(self.device_)
        net = self.net_
        if self.freeze_encoder:
            net.encoder.requires_grad_(False)
        groups = optimizer_groups(net.encoder.named_parameters(), lr=self.lr, weight_decay=self.weight_decay)
        head = list(net.transform.named_parameters()) + list(net.verbalizer.named_parameters())
        groups += optimizer_groups(head, lr=self.lr_verbalizer, weight_decay=self.weight_decay)
        groups += optimizer_groups(net.crf.named_parameters(), lr=self.lr_crf, weight_decay=self.weight_decay)
        optimizer = torch.optim.AdamW(groups, eps=1e-8)
        n_batches = -(-len(ids) // max(1, int(self.batch_size)))
        total = max(1, int(self.epochs)) * n_batches
        schedule = linear_schedule(optimizer, total)
        rng = np.random.default_rng(int(self.seed))
        dev_pair = _dev_pair(dev)
        best: tuple[float, dict] | None = None
        stale, done = 0, 0
        trainable = [p for p in net.parameters() if p.requires_grad]
        for _epoch in range(max(1, int(self.epochs))):
            net.train()
            if self.freeze_encoder:
                net.encoder.eval()
            order = rng.permutation(len(ids))
            for lo in range(0, len(order), max(1, int(self.batch_size))):
                rows = order[lo : lo + int(self.batch_size)].tolist()
                loss = self._batch_nll([ids[r] for r in rows], tags[rows])
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(trainable, self.max_grad_norm)
                optimizer.step()
                schedule.step()
                done += 1
                if progress:
                    progress(done, total)
            if dev_pair is not None:
                self._cache = None  # the weights changed since the last prediction
                score = self._exact_accuracy(*dev_pair, progress=progress)
                if best is None or score > best[0]:
                    best, stale = (score, copy.deepcopy(net.state_dict())), 0
                else:
                    stale += 1
                    if stale >= int(self.patience):
                        break
        if best is not None:
            net.load_state_dict(best[1])
            self.dev_accuracy_ = best[0]
        net.eval()
        self._cache = None
        return self

    def _batch_nll(self, ids_list: list[list[int]], tags: torch.Tensor) -> torch.Tensor:
        from classifiers.engine.plm import collate

        input_ids, attention = collate(ids_list, self.prompt_.tokenizer.pad_token_id or 0)
        device = self.device_
        with autocast(str(device)):
            emissions = self.net_.emissions(input_ids.to(device), attention.to(device), self.prompt_.mask_positions)
        # Summed over the batch, as the reference does (the CRF in float32).
        return self.net_.crf.neg_log_likelihood(
            emissions.float(), tags, allowed=self.allowed_, start_allowed=self.start_allowed_
        )

    def _exact_accuracy(self, texts: Sequence[str], paths: Sequence, progress: ProgressFn = None) -> float:
        gold = [set(map(tuple, p)) for p in as_multi(paths)]
        pred = self.predict(texts, progress=cancel_checker(progress))  # a cancel stops between dev batches
        return float(np.mean([set(p) == g for p, g in zip(pred, gold, strict=True)])) if gold else 0.0

    # ----- inference -----
    def _emissions(self, texts: Sequence[str], progress: ProgressFn) -> np.ndarray:
        """Emissions of every text `[n, n_masks, num_tags]` (float32), cached for the last batch of texts."""
        from classifiers.engine.plm import collate, length_sorted_batches

        key = hashlib.sha256("\x00".join(map(str, texts)).encode("utf-8", "surrogatepass")).hexdigest()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        ids = self.prompt_.encode([str(t) for t in texts])
        out = np.zeros((len(ids), len(self.chain_), len(self.hierarchy_)), dtype=np.float32)
        batches = length_sorted_batches([len(x) for x in ids], int(self.eval_batch_size))
        self.net_.eval()
        device = self.device_
        with torch.inference_mode(), autocast(str(device)):
            for done, rows in enumerate(batches, start=1):
                input_ids, attention = collate([ids[r] for r in rows], self.prompt_.tokenizer.pad_token_id or 0)
                emissions = self.net_.emissions(input_ids.to(device), attention.to(device), self.prompt_.mask_positions)
                out[rows] = emissions.float().cpu().numpy()
                if progress:
                    progress(done, len(batches))
        self._cache = (key, out)
        return out

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[list[Path]]:
        """Viterbi over the whole chain; the path is read from the first D tags (one path per document)."""
        if not len(texts):
            return []
        emissions = torch.from_numpy(self._emissions(texts, progress)).to(self.device_)
        with torch.inference_mode():
            tags, _ = self.net_.crf.viterbi(emissions, allowed=self.allowed_, start_allowed=self.start_allowed_)
        return [[chain_lib.path_from_tags(row, self.hierarchy_)] for row in tags.cpu().tolist()]

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """Per level (in `hierarchy_.levels` order): CRF marginals (or emission softmax) at that level's first
        mask, restricted to the level's nodes and renormalised (uniform when no mass is left on them)."""
        h = self.hierarchy_
        if not len(texts):
            return [np.zeros((0, len(level))) for level in h.levels]
        emissions = torch.from_numpy(self._emissions(texts, progress)).to(self.device_)
        with torch.inference_mode():
            if self.score_source == "marginals":
                probs = self.net_.crf.marginals(emissions, allowed=self.allowed_, start_allowed=self.start_allowed_)
                per_level = [probs[:, d, level].double().cpu().numpy() for d, level in enumerate(h.levels)]
            else:
                per_level = [
                    torch.softmax(emissions[:, d, level].double(), 1).cpu().numpy() for d, level in enumerate(h.levels)
                ]
        out = []
        for s in per_level:
            total = s.sum(1, keepdims=True)
            uniform = np.full_like(s, 1.0 / max(1, s.shape[1]))
            out.append(np.where(total > 1e-12, s / np.where(total > 1e-12, total, 1.0), uniform))
        return out

    # ----- persistence -----
    def state_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain_,
            "terminal_paths": [list(p) for p in self.terminal_paths_],
            "device": str(getattr(self, "device_", "cpu")),
        }

    def state_tensors(self) -> dict[str, np.ndarray]:
        """The whole network's weights; the encoder's are left out when it was frozen (reloaded from its path)."""
        return {
            k: v.detach().cpu().numpy()
            for k, v in self.net_.state_dict().items()
            if not (self.freeze_encoder and k.startswith("encoder."))
        }

    def load_state(self, state: dict[str, Any], tensors: dict[str, np.ndarray], directory: FsPath) -> None:
        self._build(self.hierarchy_, [tuple(p) for p in state["terminal_paths"]])
        if list(state.get("chain") or []) != self.chain_:
            raise ValueError("saved chain does not match iter_num and the hierarchy")
        missing, unexpected = self.net_.load_state_dict(
            {k: torch.from_numpy(v) for k, v in tensors.items()}, strict=False
        )
        expected_missing = {k for k in missing if self.freeze_encoder and k.startswith("encoder.")}
        if unexpected or set(missing) - expected_missing - _optional_buffers(self.net_):
            raise ValueError(f"saved weights do not fit the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        self._to_device(resolve_device(self.device, fallback=True))  # loads on any machine, wherever trained
        self.net_.eval()


def _optional_buffers(net: nn.Module) -> set[str]:
    """Buffers an encoder may or may not persist depending on the transformers version (e.g. position ids)."""
    return {name for name, _ in net.named_buffers()}


def _dev_pair(dev) -> tuple[list[str], list] | None:
    """`(texts, paths)` or {"texts", "paths"}; None (or empty) turns dev selection off."""
    if dev is None:
        return None
    texts, paths = (dev["texts"], dev["paths"]) if isinstance(dev, dict) else dev
    return (list(texts), list(paths)) if len(texts) else None
