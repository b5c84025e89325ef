"""Taxonomy growth for HierVerb: warm-start from a fitted model, extend the verbalizer, fine-tune briefly.

The copy keeps the fitted encoder and mask transform. Each level's verbalizer gets one row per node of the
new hierarchy: nodes that existed at the same level keep their learned row (and bias); new nodes start
from their label names the way `fit` initialises them (`label_init`, children's mean). When the new tree
is deeper, the prompt gains a [MASK] per new level (the earlier masks keep their positions). With pooled
features the whole-path vectors are extended the same way (kept paths keep their rows, new paths start from
their path-text embeddings). Then a few
epochs on the new documents plus the rehearsal sample. Unlike the local classifiers, fine-tuning moves the
shared encoder, so untouched labels can drift: the forgetting report measures it.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from classifiers.engine.base import ProgressFn
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.plm import PromptEncoder, load_plm, mask_prompt
from classifiers.engine.verbalizer import HierVerbClassifier


def extend_hierverb(old: HierVerbClassifier, new_hierarchy: Hierarchy) -> HierVerbClassifier:
    """A copy of the fitted `old` (left unchanged) whose verbalizer covers `new_hierarchy`; returns it untrained.

    Nodes are matched by id; `copied_rows_` counts the label rows carried over, `new_rows_` the fresh ones."""
    old_h = old.hierarchy_
    est = copy.copy(old)
    est.net_ = copy.deepcopy(old.net_)
    est.history_ = list(getattr(old, "history_", []))
    est.mlm_model_ = None
    est.hierarchy_ = new_hierarchy
    plm = load_plm(est.encoder_path_)
    if new_hierarchy.n_levels != old_h.n_levels and not est.pooled_:
        prompt = mask_prompt(range(1, new_hierarchy.n_levels + 1), plm.tokenizer.mask_token, est.prompt_prefix)
        est.prompt_ = PromptEncoder(plm.tokenizer, prompt, est.max_length)
    fresh = est._label_vectors_for(plm, new_hierarchy)
    vectors, biases = [], []
    copied = 0
    with torch.no_grad():
        for d, nodes in enumerate(new_hierarchy.levels):
            rows, bias = [], []
            for n in nodes:
                o = old_h.index.get(new_hierarchy.ids[n])
                if o is not None and old_h.depth[o] == d + 1:
                    rows.append(old.net_.label_vectors[d][old_h.level_pos[o]].detach().clone().float())
                    bias.append(old.net_.label_bias[d][old_h.level_pos[o]] if old.net_.label_bias is not None else 0.0)
                    copied += 1
                else:
                    rows.append(fresh[n].detach().clone().float().to(old.net_.label_vectors[0].device))
                    bias.append(0.0)
            vectors.append(nn.Parameter(torch.stack(rows)))
            biases.append(nn.Parameter(torch.tensor([float(b) for b in bias])))
        if est.pooled_:  # whole-path vectors: a path kept (same node id) keeps its row, a new one starts fresh
            rows, bias = [], []
            for n in range(len(new_hierarchy)):
                o = old_h.index.get(new_hierarchy.ids[n])
                if o is not None and old_h.depth[o] == new_hierarchy.depth[n]:
                    rows.append(old.net_.path_vectors[o].detach().clone().float())
                    bias.append(float(old.net_.path_bias[o]) if old.net_.path_bias is not None else 0.0)
                else:
                    rows.append(fresh[n].detach().clone().float())
                    bias.append(0.0)
            device = old.net_.path_vectors.device
            est.net_.path_vectors = nn.Parameter(torch.stack([r.to(device) for r in rows]))
            if est.net_.path_bias is not None:
                est.net_.path_bias = nn.Parameter(torch.tensor(bias, device=device))
    device = old.net_.label_vectors[0].device
    est.net_.label_vectors = nn.ParameterList([nn.Parameter(v.detach().to(device)) for v in vectors])
    if est.net_.label_bias is not None:
        est.net_.label_bias = nn.ParameterList([nn.Parameter(b.detach().to(device)) for b in biases])
    est.copied_rows_ = copied
    est.new_rows_ = len(new_hierarchy) - copied
    return est


def update_hierverb(
    old: HierVerbClassifier,
    new_hierarchy: Hierarchy,
    texts: Sequence[str],
    paths: Sequence,
    *,
    epochs: int = 2,
    progress: ProgressFn = None,
) -> HierVerbClassifier:
    """`extend_hierverb`, then `epochs` of fine-tuning on `texts`/`paths` (new-hierarchy indices: the new
    documents plus the rehearsal sample); returns the new estimator."""
    if not len(texts):
        raise ValueError("no documents to fine-tune on")
    est = extend_hierverb(old, new_hierarchy)
    torch.manual_seed(int(est.seed))
    return est._train(list(texts), list(paths), dev=None, progress=progress, epochs=int(epochs))


__all__ = ["extend_hierverb", "update_hierverb"]
