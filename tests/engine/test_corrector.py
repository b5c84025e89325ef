"""The CRF corrector: constrained decoding, learning level trust, save/load."""

from __future__ import annotations

import numpy as np
import pytest

from classifiers.engine.corrector import CRFCorrector
from classifiers.engine.hierarchy import Hierarchy


def _toy() -> Hierarchy:
    return Hierarchy.from_paths([["CS", "ML"], ["CS", "CV"], ["Med", "Cancer"]])


def _scores_for(hier: Hierarchy, rows: list[dict[str, float]]) -> list[np.ndarray]:
    """Per-level arrays from {name: score} dicts (one dict per document, all levels mixed)."""
    out = []
    for level in hier.levels:
        out.append(np.array([[row.get(hier.names[n], 0.0) for n in level] for row in rows]))
    return out


def test_corrector_fixes_an_inconsistent_prediction_to_the_path_the_scores_support():
    hier = _toy()
    # Level 1 says CS (0.55) but level 2 says Cancer (0.6), a child of Med: argmax gives CS > Cancer.
    # Valid paths: CS>ML = log .55 + log .3 = -1.80; CS>CV = -2.90; Med>Cancer = log .45 + log .6 = -1.31.
    scores = _scores_for(
        hier,
        [
            {"CS": 0.55, "Med": 0.45, "Cancer": 0.6, "ML": 0.3, "CV": 0.1},
            {"CS": 0.8, "Med": 0.2, "ML": 0.7, "CV": 0.2, "Cancer": 0.1},
        ],
    )
    paths, changed = CRFCorrector().correct(scores, hier)
    assert [hier.path_names(p) for p in paths] == [["Med", "Cancer"], ["CS", "ML"]]
    assert changed.tolist() == [True, False]
    assert all(hier.is_valid_path(p) for p in paths)


def test_changed_compares_with_the_strategy_prediction_when_given():
    hier = _toy()
    scores = _scores_for(hier, [{"CS": 0.8, "Med": 0.2, "ML": 0.7, "CV": 0.2, "Cancer": 0.1}])
    said = [hier.path_from_names(["CS", "CV"])]
    paths, changed = CRFCorrector().correct(scores, hier, original=said)
    assert hier.path_names(paths[0]) == ["CS", "ML"]
    assert changed.tolist() == [True]


def _brute_force_sum(scores, hier):
    """The leaf path with the highest summed log-score, per document, by looping over everything."""
    out = []
    for i in range(scores[0].shape[0]):
        best = max(
            hier.leaf_paths(),
            key=lambda p: sum(np.log(scores[d][i, hier.level_pos[n]]) for d, n in enumerate(p)),
        )
        out.append(best)
    return out


@pytest.mark.parametrize("seed", range(3))
def test_unfitted_corrector_picks_the_valid_path_with_the_highest_summed_log_score_on_a_ragged_tree(seed):
    hier = Hierarchy.from_paths([["A"], ["B", "B1"], ["B", "B2", "B2x"], ["B", "B2", "B2y"], ["C", "C1", "C1a"]])
    rng = np.random.default_rng(seed)
    scores = [rng.dirichlet(np.ones(len(level)), size=40) for level in hier.levels]
    paths, _ = CRFCorrector().correct(scores, hier)
    assert paths == _brute_force_sum(scores, hier)
    assert all(hier.is_valid_path(p) for p in paths)
    assert len({len(p) for p in paths}) >= 2  # paths of different depths win


def _noisy_level_one(hier: Hierarchy, n: int, seed: int):
    """Level 1 is confidently wrong 60% of the time; level 2 is mildly right every time."""
    rng = np.random.default_rng(seed)
    leaf_paths = hier.leaf_paths()
    gold = [leaf_paths[k] for k in rng.integers(0, len(leaf_paths), size=n)]
    s1 = np.full((n, len(hier.levels[0])), 0.0)
    s2 = np.full((n, len(hier.levels[1])), 0.15)
    for i, (top, leaf) in enumerate(gold):
        wrong = rng.random() < 0.6
        pick = [x for x in hier.levels[0] if x != top][0] if wrong else top
        s1[i] = 0.1
        s1[i, hier.level_pos[pick]] = 0.9
        s2[i, hier.level_pos[leaf]] = 0.55
    s2 /= s2.sum(1, keepdims=True)
    return [s1, s2], gold


def test_fitting_learns_to_trust_the_reliable_level():
    hier = Hierarchy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"]])
    train_scores, train_gold = _noisy_level_one(hier, 80, seed=0)
    test_scores, test_gold = _noisy_level_one(hier, 200, seed=1)

    def accuracy(corrector):
        paths, _ = corrector.correct(test_scores, hier)
        return np.mean([p == g for p, g in zip(paths, test_gold, strict=True)])

    plain = accuracy(CRFCorrector())
    fitted = CRFCorrector().fit(train_scores, train_gold, hier)
    assert fitted.level_weight_[1] > fitted.level_weight_[0]
    assert fitted.fit_report_["loss_end"] < fitted.fit_report_["loss_start"]
    assert accuracy(fitted) > plain + 0.3


def test_fit_skips_gold_paths_that_are_not_leaf_paths():
    hier = _toy()
    scores = _scores_for(hier, [{"CS": 0.9, "ML": 0.9}, {"Med": 0.9, "Cancer": 0.9}])
    gold = [hier.path_from_names(["CS"]), [hier.path_from_names(["Med", "Cancer"])]]
    fitted = CRFCorrector(max_iter=5).fit(scores, gold, hier)
    assert fitted.fit_report_["documents"] == 1
    assert fitted.fit_report_["skipped"] == 1


def test_save_load_round_trip_corrects_identically(tmp_path):
    hier = Hierarchy.from_paths([["A", "A1"], ["A", "A2"], ["B", "B1"], ["B", "B2"], ["C"]])
    rng = np.random.default_rng(3)
    scores = [rng.dirichlet(np.ones(len(level)), size=30) for level in hier.levels]
    gold = [hier.leaf_paths()[k] for k in rng.integers(0, 5, size=30)]
    fitted = CRFCorrector(max_iter=50, seed=4).fit(scores, gold, hier)
    fitted.save(tmp_path / "corr")
    loaded = CRFCorrector.load(tmp_path / "corr")
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.node_bias_, fitted.node_bias_)
    fresh = [rng.dirichlet(np.ones(len(level)), size=25) for level in hier.levels]
    a, changed_a = fitted.correct(fresh)
    b, changed_b = loaded.correct(fresh)
    assert a == b
    assert changed_a.tolist() == changed_b.tolist()


def test_rejects_scores_that_do_not_match_the_hierarchy():
    hier = _toy()
    with pytest.raises(ValueError):
        CRFCorrector().correct([np.ones((2, 2))], hier)
    with pytest.raises(ValueError):
        CRFCorrector().correct([np.ones((2, 2)), np.ones((2, 2))], hier)
    with pytest.raises(ValueError):
        CRFCorrector().correct([np.ones((2, 2)), np.ones((2, 3))])
