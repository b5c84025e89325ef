"""HierICRF: the mask chain, hard constraints that only allow valid paths, training, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classifiers.engine import hiericrf_chain as chain_lib
from classifiers.engine.crf import LinearChainCRF
from classifiers.engine.hierarchy import Hierarchy

WORDS = {
    ("sport", "football"): "goal striker penalty pitch",
    ("sport", "tennis"): "racket serve volley court",
    ("science", "physics"): "quantum particle energy photon",
    ("science", "biology"): "cell gene protein enzyme",
}


def test_chain_levels_follow_the_reference_template():
    assert chain_lib.chain_levels(2, 5) == [1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1]
    assert chain_lib.chain_levels(3, 5) == [1, 2, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1, 3, 2, 1]
    assert chain_lib.chain_levels(1, 3) == [1, 1, 1]


def test_gold_sequence_pads_a_short_path_with_its_last_node():
    assert chain_lib.chain_sequence((7,), [1, 2, 1, 2]) == [7, 7, 7, 7]
    assert chain_lib.chain_sequence((3, 5), [1, 2, 3, 2, 1]) == [3, 5, 5, 5, 3]


@st.composite
def small_trees(draw):
    """Random ragged trees of depth 1-4 with up to ~12 nodes."""
    parent = [-1]
    for _ in range(draw(st.integers(1, 11))):
        parent.append(draw(st.integers(-1, len(parent) - 1)))
    return Hierarchy(ids=list(range(len(parent))), names=[f"n{i}" for i in range(len(parent))], parent=parent)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=small_trees(), iter_num=st.integers(1, 3), seed=st.integers(0, 10_000), batch=st.integers(1, 4))
def test_hard_mode_never_decodes_an_invalid_path(tree, iter_num, seed, batch):
    chain = chain_lib.chain_levels(tree.n_levels, iter_num)
    terminals = chain_lib.terminal_paths(tree)
    allowed, start = chain_lib.hard_constraints(chain, terminals, len(tree))
    gen = torch.Generator().manual_seed(seed)
    crf = LinearChainCRF(len(tree))
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 5)  # strong random preferences for forbidden moves too
    emissions = torch.randn(batch, len(chain), len(tree), generator=gen) * 5
    tags, scores = crf.viterbi(emissions, allowed=torch.from_numpy(allowed), start_allowed=torch.from_numpy(start))
    assert torch.isfinite(scores).all()
    for row in tags.tolist():
        path = chain_lib.path_from_tags(row, tree)
        assert tree.is_valid_path(path)
        assert path in terminals


@settings(max_examples=40, deadline=None)
@given(tree=small_trees(), iter_num=st.integers(1, 3))
def test_every_gold_path_is_permitted_by_the_hard_constraints(tree, iter_num):
    chain = chain_lib.chain_levels(tree.n_levels, iter_num)
    terminals = chain_lib.terminal_paths(tree)
    allowed, start = chain_lib.hard_constraints(chain, terminals, len(tree))
    for path in terminals:
        seq = chain_lib.chain_sequence(path, chain)
        assert start[seq[0]]
        assert all(allowed[t, seq[t], seq[t + 1]] for t in range(len(seq) - 1))
        assert chain_lib.path_from_tags(seq, tree) == path


def test_hard_constraints_use_children_parents_and_level_jumps():
    tree = Hierarchy.from_paths([["A", "A1", "A1x"], ["A", "A2", "A2x"], ["B", "B1", "B1x"]])
    idx = tree.index
    chain = chain_lib.chain_levels(3, 2)  # 1 2 3 2 1 3 2 1
    allowed, start = chain_lib.hard_constraints(chain, chain_lib.terminal_paths(tree), len(tree))
    assert start[idx["A"]] and not start[idx["A > A1"]]
    assert allowed[0, idx["A"], idx["A > A1"]] and not allowed[0, idx["A"], idx["B > B1"]]  # 1 -> 2: a child
    assert allowed[2, idx["A > A1 > A1x"], idx["A > A1"]] and not allowed[2, idx["A > A1 > A1x"], idx["A > A2"]]
    assert allowed[4, idx["A"], idx["A > A2 > A2x"]]  # the 1 -> 3 jump: a descendant at level 3
    assert not allowed[4, idx["A"], idx["B > B1 > B1x"]] and not allowed[4, idx["A"], idx["A > A1"]]


# ----- the estimator on a tiny BERT (fast) -----
@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny_bert")
    words = sorted({w for text in WORDS.values() for w in text.split()} | {w for key in WORDS for w in key})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "it", "was", "level", ":", ".", "1", "2", "3", *words]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(directory / "vocab.txt")).save_pretrained(directory)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
    )  # fmt: skip
    BertModel(config).save_pretrained(directory, safe_serialization=True)
    return str(directory)


def _corpus(per_leaf: int, seed: int):
    rng = np.random.default_rng(seed)
    texts, names = [], []
    for key, words in WORDS.items():
        vocab = words.split()
        for _ in range(per_leaf):
            texts.append(" ".join(rng.choice(vocab, size=6)))
            names.append(list(key))
    hier = Hierarchy.from_paths(list(WORDS))
    return texts, [hier.path_from_names(n) for n in names], hier


def _tiny(encoder_path: str, **params):
    from classifiers.engine.hiericrf import HierICRFClassifier

    base = dict(encoder_path=encoder_path, iter_num=2, epochs=3, batch_size=4, max_length=48, lr=1e-3, seed=1)
    return HierICRFClassifier(**{**base, **params})


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_save_load_round_trip_predicts_identically(tiny_encoder, tmp_path, mode):
    from classifiers.engine.registry import load_estimator

    texts, paths, hier = _corpus(3, seed=0)
    model = _tiny(tiny_encoder, transitions=mode).fit(texts, paths, hier)
    model.save(tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    assert loaded.get_params() == model.get_params()
    probe = [*texts[:5], "goal photon racket gene"]
    assert loaded.predict(probe) == model.predict(probe)
    for a, b in zip(loaded.predict_scores(probe), model.predict_scores(probe), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_hard_mode_predictions_and_scores_are_well_formed(tiny_encoder):
    texts, paths, hier = _corpus(2, seed=1)
    model = _tiny(tiny_encoder, transitions="hard", epochs=1).fit(texts, paths, hier)
    preds = model.predict([*texts, ""])
    assert all(len(p) == 1 and hier.is_valid_path(p[0]) and len(p[0]) == 2 for p in preds)
    scores = model.predict_scores(texts)
    assert [s.shape for s in scores] == [(len(texts), len(level)) for level in hier.levels]
    for s in scores:
        np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-6)


def test_reference_soft_chain_without_level_restriction_gives_emission_scores(tiny_encoder):
    texts, paths, hier = _corpus(2, seed=1)
    model = _tiny(tiny_encoder, level_tags=False, score_source="emissions", epochs=1).fit(texts, paths, hier)
    assert model.allowed_ is None
    preds = model.predict(texts)
    assert all(len(p) == 1 and 1 <= len(p[0]) <= 2 for p in preds)
    scores = model.predict_scores(texts)
    assert [s.shape for s in scores] == [(len(texts), len(level)) for level in hier.levels]
    for s in scores:
        np.testing.assert_allclose(s.sum(1), 1.0, rtol=1e-6)


def test_frozen_encoder_is_not_saved_and_reloads_from_its_path(tiny_encoder, tmp_path):
    from safetensors.numpy import load_file

    from classifiers.engine.hiericrf import HierICRFClassifier

    texts, paths, hier = _corpus(2, seed=2)
    model = _tiny(tiny_encoder, freeze_encoder=True, epochs=1).fit(texts, paths, hier)
    model.save(tmp_path / "m")
    assert not any(k.startswith("encoder.") for k in load_file(str(tmp_path / "m" / "tensors.safetensors")))
    assert HierICRFClassifier.load(tmp_path / "m").predict(texts) == model.predict(texts)


def test_hard_mode_handles_a_ragged_tree_and_a_gold_path_that_stops_at_an_internal_node(tiny_encoder):
    texts, paths, two_level = _corpus(2, seed=5)
    hier = Hierarchy.from_paths([*WORDS, ["misc"]])
    paths = [hier.path_from_names(two_level.path_names(p)) for p in paths]
    texts += ["goal striker misc", "quantum misc", "racket"]
    paths += [hier.path_from_names(["misc"])] * 2 + [hier.path_from_names(["sport"])]  # "sport" is internal
    model = _tiny(tiny_encoder, transitions="hard", epochs=2).fit(texts, paths, hier)
    assert hier.path_from_names(["sport"]) in model.terminal_paths_
    preds = [p[0] for p in model.predict(texts)]
    assert all(p in model.terminal_paths_ for p in preds)
    assert all(s.shape[0] == len(texts) for s in model.predict_scores(texts))


def test_refuses_a_chain_that_leaves_no_room_for_the_text(tiny_encoder):
    texts, paths, hier = _corpus(1, seed=0)
    with pytest.raises(ValueError, match="max_length"):
        _tiny(tiny_encoder, iter_num=5, max_length=48).fit(texts, paths, hier)


def test_rejects_an_unknown_transition_mode(tiny_encoder):
    texts, paths, hier = _corpus(1, seed=0)
    with pytest.raises(ValueError):
        _tiny(tiny_encoder, transitions="medium").fit(texts, paths, hier)


# ----- learning on the real encoder (slow) -----
@pytest.mark.slow
def test_hiericrf_on_minilm_learns_a_tiny_corpus_above_chance():
    from classifiers.engine.hiericrf import HierICRFClassifier

    torch.set_num_threads(1)
    texts, paths, hier = _corpus(4, seed=3)
    test_texts, test_paths, _ = _corpus(3, seed=4)
    model = HierICRFClassifier(iter_num=2, epochs=4, batch_size=8, max_length=48, transitions="hard", seed=550)
    model.fit(texts, paths, hier)
    preds = [p[0] for p in model.predict(test_texts)]
    accuracy = np.mean([p == g for p, g in zip(preds, test_paths, strict=True)])
    assert accuracy >= 0.75  # chance is 0.25 (4 leaves)
