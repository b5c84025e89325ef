"""Multi-path predictions from path probabilities: a threshold fitted on dev, at least one path, at most N."""

import numpy as np

from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.multipath import PathSelector, example_f1


def _tree():
    return Hierarchy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"], ["B", "b2"]])


def _docs(n, seed):
    """Documents with one or two gold paths; the probability of a gold path is high, of the others low."""
    h = _tree()
    leaf_paths = h.leaf_paths()
    rng = np.random.RandomState(seed)
    proba, gold = [], []
    for _ in range(n):
        k = 1 + int(rng.rand() < 0.4)
        picked = sorted(rng.choice(len(leaf_paths), size=k, replace=False).tolist())
        row = rng.uniform(0.0, 0.05, len(leaf_paths))
        row[picked] = rng.uniform(0.3, 0.6, k)
        proba.append(row / row.sum())
        gold.append([leaf_paths[j] for j in picked])
    return h, np.array(proba), gold


def test_threshold_fitted_on_dev_finds_the_second_paths():
    h, dev_p, dev_g = _docs(200, 0)
    _, test_p, test_g = _docs(200, 1)
    sel = PathSelector(max_paths=3).fit(dev_p, dev_g, h)
    assert 0.05 < sel.threshold < 0.5
    pred = sel.select(test_p, h)
    assert all(1 <= len(p) <= 3 for p in pred)
    one = [p[:1] for p in pred]
    assert example_f1(pred, test_g) > example_f1(one, test_g) + 0.1
    assert example_f1(pred, test_g) > 0.95
    assert sel.report["dev_example_f1"] > sel.report["dev_example_f1_one_path"]
    again = PathSelector.from_dict(sel.to_dict())
    assert again.select(test_p, h) == pred


def test_at_least_one_and_at_most_n():
    h = _tree()
    sel = PathSelector(max_paths=2)
    sel.threshold = 0.0  # every path passes: capped at 2, the most probable first
    pred = sel.select(np.array([[0.1, 0.2, 0.3, 0.4]]), h)
    assert pred == [[h.leaf_paths()[3], h.leaf_paths()[2]]]
    sel.threshold = 0.99  # none passes: still the most probable one
    assert sel.select(np.array([[0.1, 0.2, 0.3, 0.4]]), h) == [[h.leaf_paths()[3]]]


def test_single_path_dev_keeps_one_path():
    h, dev_p, _ = _docs(100, 2)
    gold = [[h.leaf_paths()[int(np.argmax(row))]] for row in dev_p]
    sel = PathSelector(max_paths=3).fit(dev_p, gold, h)
    assert all(len(p) == 1 for p in sel.select(dev_p, h))


def test_per_level_thresholds_where_paths_end_at_different_depths():
    """Ragged tree: second paths ending at level 1 are real above 0.2, those ending at level 2 never are."""
    h = Hierarchy.from_paths([["A", "a1"], ["A", "a2"], ["B"], ["C"]])
    leaf_paths = h.leaf_paths()
    deep = [j for j, p in enumerate(leaf_paths) if len(p) == 2]
    shallow = [j for j, p in enumerate(leaf_paths) if len(p) == 1]
    rng = np.random.RandomState(4)
    proba, gold = [], []
    for _ in range(300):
        row = np.full(4, 0.01)
        first = int(rng.choice(deep))
        row[first] = 0.6
        g = [leaf_paths[first]]
        second = int(rng.choice(shallow))
        row[second] = 0.3
        if rng.rand() < 0.5:
            g.append(leaf_paths[second])
            row[[j for j in deep if j != first][0]] = 0.3  # a decoy deep path as probable as the real second
        else:
            row[second] = 0.1
        proba.append(row / row.sum())
        gold.append(g)
    proba = np.array(proba)
    sel = PathSelector(max_paths=3, min_level_documents=20).fit(proba, gold, h)
    assert 1 in sel.level_thresholds or 2 in sel.level_thresholds
    assert sel.report["dev_example_f1"] > 0.95
