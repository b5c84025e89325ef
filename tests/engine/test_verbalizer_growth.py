"""HierVerb growth update: warm start, verbalizer rows carried over by node id, new rows from names, fine-tuning."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from classifiers.engine.growth import update_for_new_labels
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.plm import load_plm
from classifiers.engine.verbalizer import HierVerbClassifier
from classifiers.engine.verbalizer_growth import extend_hierverb
from tests.engine.test_verbalizer import FILLER, TREE, one_torch_thread, write_tiny_checkpoint  # noqa: F401

OLD_PATHS = [["sports", "football"], ["sports", "tennis"], ["cooking"]]
NEW_PATHS = [[p, c] for p, kids in TREE.items() for c in kids]


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory) -> str:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_mlm_growth"), mlm_head=True)


def docs(leaves, per_leaf: int, seed: int):
    """(texts, [parent, leaf] names) with two words of the leaf and filler."""
    rng = random.Random(seed)
    texts, names = [], []
    for parent, leaf in leaves:
        for _ in range(per_leaf):
            tokens = rng.sample(TREE[parent][leaf], 2) + [rng.choice(FILLER) for _ in range(4)]
            rng.shuffle(tokens)
            texts.append(" ".join(tokens))
            names.append([parent, leaf])
    return texts, names


@pytest.fixture(scope="module")
def old_model(tiny_mlm):
    old_h = Hierarchy.from_paths(OLD_PATHS)
    texts, names = docs([(p, c) for p, c in NEW_PATHS], 3, seed=1)
    paths = [old_h.path_from_names(n if n[0] == "sports" else n[:1]) for n in names]
    clf = HierVerbClassifier(
        encoder_path=tiny_mlm, max_length=24, batch_size=4, epochs=2, lr=1e-3, lr_verbalizer=1e-2, seed=3
    )
    return clf.fit(texts, paths, old_h), texts, paths


def _row(model, node_id):
    h = model.hierarchy_
    i = h.index[node_id]
    return model.net_.label_vectors[h.depth[i] - 1][h.level_pos[i]].detach()


def test_extension_copies_learned_rows_and_initialises_new_ones_from_names(old_model):
    old, _, _ = old_model
    new_h = Hierarchy.from_paths(NEW_PATHS)
    before = [v.detach().clone() for v in old.net_.label_vectors]
    est = extend_hierverb(old, new_h)
    assert [v.shape[0] for v in est.net_.label_vectors] == [2, 4]
    assert (est.copied_rows_, est.new_rows_) == (4, 2)
    for node_id in ["sports", "cooking", "sports > football", "sports > tennis"]:
        assert torch.equal(_row(est, node_id), _row(old, node_id))
    fresh = est._label_vectors_for(load_plm(est.encoder_path_), new_h)
    for node_id in ["cooking > baking", "cooking > soup"]:
        assert torch.allclose(_row(est, node_id), fresh[new_h.index[node_id]])
    # the old model is untouched and its encoder weights are copied, not shared
    assert [v.shape[0] for v in old.net_.label_vectors] == [2, 2] and old.hierarchy_.n_levels == 2
    assert all(torch.equal(a, b) for a, b in zip(before, old.net_.label_vectors, strict=True))
    a, b = next(old.net_.encoder.parameters()), next(est.net_.encoder.parameters())
    assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()


def test_a_deeper_tree_gets_one_more_mask_and_keeps_the_earlier_positions(old_model):
    old, _, _ = old_model
    deeper = Hierarchy.from_paths([*NEW_PATHS[1:], ["sports", "football", "goal"], ["sports", "football", "striker"]])
    est = extend_hierverb(old, deeper)
    assert len(est.prompt_.mask_positions) == 3
    assert est.prompt_.mask_positions[:2] == old.prompt_.mask_positions
    assert len(est.net_.label_vectors) == 3 and est.net_.label_vectors[2].shape[0] == 2
    scores = est.predict_scores(["goal striker the a", "oven"])
    assert [s.shape for s in scores] == [(2, 2), (2, 4), (2, 2)]
    assert np.allclose([s.sum(axis=1) for s in scores], 1.0, atol=1e-5)


def test_update_fine_tunes_on_new_and_rehearsal_documents_and_round_trips(old_model, tmp_path):
    old, old_texts, old_paths = old_model
    old_scores = old.predict_scores(old_texts[:4])
    new_h = Hierarchy.from_paths(NEW_PATHS)
    texts_new, names_new = docs([("cooking", "baking"), ("cooking", "soup")], 4, seed=5)
    paths_new = [new_h.path_from_names(n) for n in names_new]
    est = update_for_new_labels(old, new_h, texts_new, paths_new, old_texts, old_paths, rehearsal=0.5, seed=2, epochs=3)
    assert est.hierarchy_ is new_h and len(est.history_) == 3
    assert est.history_[-1]["loss"] < est.history_[0]["loss"]  # it learned something
    assert not torch.equal(_row(est, "cooking > baking"), _row(extend_hierverb(old, new_h), "cooking > baking"))
    preds = est.predict(texts_new)
    assert all(new_h.is_valid_path(p[0]) for p in preds)
    # the parent still predicts exactly as before
    for a, b in zip(old_scores, old.predict_scores(old_texts[:4]), strict=True):
        assert np.array_equal(a, b)
    est.save(tmp_path / "grown")
    loaded = HierVerbClassifier.load(tmp_path / "grown")
    for a, b in zip(est.predict_scores(texts_new), loaded.predict_scores(texts_new), strict=True):
        assert np.allclose(a, b, atol=1e-6)
