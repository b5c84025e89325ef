"""HierVerb losses against small hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from classifiers.engine import losses
from classifiers.engine.hierarchy import Hierarchy

E = math.e


def two_level() -> Hierarchy:
    return Hierarchy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"]])


def test_level_targets_use_level_positions_and_ignore_missing_levels():
    h = Hierarchy.from_paths([["A", "a1"], ["B"]])
    a1, b = h.path_from_names(["A", "a1"]), h.path_from_names(["B"])
    single = losses.level_targets([[a1], [b]], h, multi_label=False)
    assert single[0].tolist() == [0, 1]
    assert single[1].tolist() == [0, losses.IGNORE]
    multi = losses.level_targets([[a1, b], []], h, multi_label=True)
    assert multi[0].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    assert multi[1].tolist() == [[1.0], [0.0]]


def test_hcc_feeds_summed_leaf_probabilities_to_cross_entropy_as_logits():
    h = two_level()
    # doc 1: leaf probabilities 1/4, 1/2, 1/4 -> level-1 scores (3/4, 1/4), gold A
    # doc 2: uniform leaves -> (2/3, 1/3), gold B
    leaf_logits = torch.log(torch.tensor([[1.0, 2.0, 1.0], [1.0, 1.0, 1.0]]))
    level1_logits = torch.tensor([[5.0, -5.0], [5.0, -5.0]])  # not used on a full-depth tree
    targets = [torch.tensor([0, 1]), torch.tensor([0, 2])]
    loss = losses.hcc_loss([level1_logits, leaf_logits], targets, losses.parent_maps(h), losses.childless_masks(h))
    doc1 = math.log(1 + math.exp(-0.5))  # -log(e^.75 / (e^.75 + e^.25))
    doc2 = math.log(1 + math.exp(1 / 3))  # -log(e^(1/3) / (e^(2/3) + e^(1/3)))
    assert float(loss) == pytest.approx((doc1 + doc2) / 2, abs=1e-6)


def test_hcc_chain_reuses_propagated_scores_at_depth_three():
    h = Hierarchy.from_paths([["R", "X", "x1"], ["R", "X", "x2"], ["R", "Y", "y1"], ["S", "Z", "z1"]])
    logits = [torch.zeros(1, 2), torch.zeros(1, 3), torch.zeros(1, 4)]  # uniform leaves: 1/4 each
    path = h.path_from_names(["R", "X", "x1"])
    targets = losses.level_targets([[path]], h, multi_label=False)
    scores = losses.hcc_scores(logits, losses.parent_maps(h), losses.childless_masks(h))
    assert scores[1][0].tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert scores[0][0].tolist() == pytest.approx([0.75, 0.25])
    loss = losses.hcc_loss(logits, targets, losses.parent_maps(h), losses.childless_masks(h))
    level2 = -math.log(math.exp(0.5) / (math.exp(0.5) + 2 * math.exp(0.25)))
    level1 = math.log(1 + math.exp(-0.5))
    assert float(loss) == pytest.approx(level1 + level2, abs=1e-6)


def test_hcc_passes_a_ragged_leaf_own_probability_up():
    h = Hierarchy.from_paths([["A", "a1"], ["B"]])
    logits = [torch.zeros(1, 2), torch.zeros(1, 1)]
    targets = losses.level_targets([[h.path_from_names(["B"])]], h, multi_label=False)
    scores = losses.hcc_scores(logits, losses.parent_maps(h), losses.childless_masks(h))
    assert scores[0][0].tolist() == pytest.approx([1.0, 0.5])  # A <- a1 (prob 1); B keeps its own 0.5
    loss = losses.hcc_loss(logits, targets, losses.parent_maps(h), losses.childless_masks(h))
    assert float(loss) == pytest.approx(math.log(1 + math.exp(0.5)), abs=1e-6)


def test_fhc_weights_halve_per_level_of_distance():
    assert losses.fhc_weight(1, 0) == 0.5
    assert losses.fhc_weight(2, 0) == 0.25
    assert losses.fhc_weight(2, 1) == 0.5
    assert losses.fhc_weight(2, 0, alpha=2.0) == 0.0625


def test_fhc_matches_hand_computed_value_on_three_documents():
    # mask 2 states (1,0), (0,1), (1,0); level-1 labels 0, 0, 1 -> only (mask 2, level 1) counts, weight 0.5
    states = torch.zeros(3, 2, 2)
    states[:, 0, :] = torch.tensor([[3.0, 1.0], [0.0, 2.0], [1.0, 1.0]])  # mask 1: no shallower level
    states[:, 1, :] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]])
    targets = [torch.tensor([0, 0, 1]), torch.tensor([0, 1, 2])]
    anchor0 = -math.log((E + 1) / (2 * E + 1))
    anchor1 = -math.log((1 + E) / (E + 2))
    anchor2 = -math.log(E / (2 * E + 1))
    expected = 0.5 * (anchor0 + anchor1 + anchor2) / 9
    assert float(losses.fhc_loss(states, targets)) == pytest.approx(expected, abs=1e-6)


def test_fhc_skips_anchors_without_a_label_at_that_level():
    states = torch.zeros(3, 2, 2)
    states[:, 1, :] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    targets = [torch.tensor([0, 0, losses.IGNORE]), torch.tensor([0, 1, losses.IGNORE])]
    anchor0 = -math.log((E + 1) / (2 * E + 1))
    anchor1 = -math.log((1 + E) / (E + 2))
    expected = 0.5 * (anchor0 + anchor1) / 9  # doc 3 is only a negative
    assert float(losses.fhc_loss(states, targets)) == pytest.approx(expected, abs=1e-6)


def test_fhc_multi_label_positives_share_any_label():
    states = torch.zeros(2, 2, 2)
    states[:, 1, :] = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = [torch.tensor([[1.0, 1.0], [0.0, 1.0]]), torch.zeros(2, 3)]
    # both documents share label 2 -> every pair is positive -> log(1) = 0
    assert float(losses.fhc_loss(states, targets, multi_label=True)) == pytest.approx(0.0, abs=1e-7)
    targets = [torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.zeros(2, 3)]
    expected = 0.5 * 2 * -math.log(E / (E + 1)) / 4
    assert float(losses.fhc_loss(states, targets, multi_label=True)) == pytest.approx(expected, abs=1e-6)


def test_classification_loss_sums_levels_and_skips_levels_without_gold():
    logits = [torch.zeros(2, 2), torch.zeros(2, 4)]
    targets = [torch.tensor([0, 1]), torch.tensor([losses.IGNORE, losses.IGNORE])]
    assert float(losses.classification_loss(logits, targets, multi_label=False)) == pytest.approx(math.log(2))
    targets = [torch.tensor([0, 1]), torch.tensor([3, losses.IGNORE])]
    expected = math.log(2) + math.log(4)
    assert float(losses.classification_loss(logits, targets, multi_label=False)) == pytest.approx(expected)
