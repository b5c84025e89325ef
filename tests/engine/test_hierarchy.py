"""The Hierarchy type and the decoders on hand-made scores."""

import numpy as np
import pytest

from classifiers.engine.base import decode_argmax, decode_best_path, decode_top_down
from classifiers.engine.hierarchy import Hierarchy, as_multi

TREE = [{"name": "CS", "children": [{"name": "ML"}, {"name": "CV"}]}, {"name": "Med", "children": [{"name": "Cancer"}]}]


def test_from_tree_levels_paths_and_validity():
    h = Hierarchy.from_tree(TREE)
    assert h.n_levels == 2 and [h.names[i] for i in h.levels[0]] == ["CS", "Med"]
    assert sorted(h.path_label(p) for p in h.leaf_paths()) == ["CS > CV", "CS > ML", "Med > Cancer"]
    ml = h.index["CS > ML"]
    assert h.path_to(ml) == (h.index["CS"], ml) and h.ancestors(ml) == [h.index["CS"]]
    assert h.is_valid_path((h.index["CS"], ml))
    assert not h.is_valid_path((h.index["Med"], ml))  # a child under the wrong parent
    assert not h.is_valid_path((ml,))  # does not start at the top
    assert h.path_from_names(["Med", "Cancer"]) == (h.index["Med"], h.index["Med > Cancer"])
    assert h.path_from_names(["Med", "ML"]) is None


def test_round_trip_through_dict_and_paths_constructor():
    h = Hierarchy.from_tree(TREE)
    again = Hierarchy.from_dict(h.to_dict())
    assert again.names == h.names and again.parent == h.parent
    same = Hierarchy.from_paths([["CS", "ML"], ["CS", "CV"], ["Med", "Cancer"]])
    assert sorted(same.path_label(p) for p in same.leaf_paths()) == sorted(h.path_label(p) for p in h.leaf_paths())


def test_ragged_depth_and_cycles():
    h = Hierarchy.from_tree([{"name": "A", "children": [{"name": "B", "children": [{"name": "C"}]}]}, {"name": "D"}])
    assert h.n_levels == 3 and h.is_leaf(h.index["D"]) and h.path_to(h.index["D"]) == (h.index["D"],)
    with pytest.raises(ValueError):
        Hierarchy(ids=["a", "b"], names=["a", "b"], parent=[1, 0])  # a cycle has no root
    with pytest.raises(ValueError):
        Hierarchy.from_edges([("a", "a", None), ("a", "again", None)])


def test_as_multi_accepts_single_and_multi_paths():
    assert as_multi([(0, 1), [(0, 2), (3, 4)], []]) == [[(0, 1)], [(0, 2), (3, 4)], []]


def _scores(h):
    # Level 1: CS 0.55, Med 0.45. Level 2 (order ML, CV, Cancer): Cancer 0.6, ML 0.3, CV 0.1.
    level2 = np.zeros((1, 3))
    for name, p in (("CS > ML", 0.3), ("CS > CV", 0.1), ("Med > Cancer", 0.6)):
        level2[0, h.level_pos[h.index[name]]] = p
    level1 = np.zeros((1, 2))
    level1[0, h.level_pos[h.index["CS"]]] = 0.55
    level1[0, h.level_pos[h.index["Med"]]] = 0.45
    return [level1, level2]


def test_argmax_may_be_inconsistent_top_down_and_best_path_are_valid():
    h = Hierarchy.from_tree(TREE)
    scores = _scores(h)
    [argmax] = decode_argmax(scores, h)
    assert argmax == (h.index["CS"], h.index["Med > Cancer"]) and not h.is_valid_path(argmax)
    [greedy] = decode_top_down(scores, h)
    assert greedy == (h.index["CS"], h.index["CS > ML"])
    # Best path by summed log-scores: CS>ML = log .55 + log .3 = -1.80; Med>Cancer = log .45 + log .6 = -1.31.
    [best] = decode_best_path(scores, h)
    assert best == (h.index["Med"], h.index["Med > Cancer"])
