"""Metrics against hand-computed values (methods.md §2 worked example and more)."""

import pytest

from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.metrics import confusion_at_level, evaluate


@pytest.fixture
def toy():
    # CS -> {ML, CV}, Med -> {Cancer}
    return Hierarchy.from_tree(
        [
            {"name": "CS", "children": [{"name": "ML"}, {"name": "CV"}]},
            {"name": "Med", "children": [{"name": "Cancer"}]},
        ]
    )


def ids(h, *names):
    return tuple(h.index[n] for n in names)


def test_worked_example_from_the_methods_brief(toy):
    h = toy
    gold = [[ids(h, "CS", "CS > ML")], [ids(h, "CS", "CS > CV")], [ids(h, "Med", "Med > Cancer")]]
    pred = [[ids(h, "CS", "CS > ML")], [ids(h, "CS", "CS > ML")], [ids(h, "CS", "Med > Cancer")]]
    m = evaluate(gold, pred, h)
    assert m["micro_f1"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["macro_f1"] == pytest.approx(0.493, abs=1e-3)
    assert m["c_micro_f1"] == pytest.approx(0.5, abs=1e-3)
    assert m["c_macro_f1"] == pytest.approx(0.293, abs=1e-3)
    assert m["p_micro_f1"] == pytest.approx(0.334, abs=1e-3)
    assert m["p_macro_f1"] == pytest.approx(0.186, abs=1e-3)
    assert m["exact_path_accuracy"] == pytest.approx(1 / 3)
    # Doc 3's prediction is not a valid path.
    assert m["consistency"] == pytest.approx(2 / 3)


def test_perfect_predictions_score_one_everywhere(toy):
    h = toy
    gold = [[ids(h, "CS", "CS > ML")], [ids(h, "Med", "Med > Cancer")]]
    m = evaluate(gold, gold, h)
    for key in ("micro_f1", "c_micro_f1", "p_micro_f1", "h_f1", "exact_path_accuracy", "consistency"):
        assert m[key] == pytest.approx(1.0), key
    # Labels never seen in gold or prediction count as F1 = 0 in the macro average (HiAGM convention): CV is unseen.
    assert m["macro_f1"] == pytest.approx(4 / 5)


def test_hierarchical_precision_recall_use_ancestor_sets(toy):
    h = toy
    # Gold CS>ML, predicted CS>CV: ancestor sets {CS, ML} vs {CS, CV}: hP = hR = 1/2.
    m = evaluate([[ids(h, "CS", "CS > ML")]], [[ids(h, "CS", "CS > CV")]], h)
    assert (
        m["h_precision"] == pytest.approx(0.5)
        and m["h_recall"] == pytest.approx(0.5)
        and m["h_f1"] == pytest.approx(0.5)
    )
    # Predicting only the parent: precise but incomplete.
    m = evaluate([[ids(h, "CS", "CS > ML")]], [[ids(h, "CS")]], h)
    assert m["h_precision"] == pytest.approx(1.0) and m["h_recall"] == pytest.approx(0.5)


def test_per_level_accuracy_and_f1(toy):
    h = toy
    gold = [
        [ids(h, "CS", "CS > ML")],
        [ids(h, "CS", "CS > CV")],
        [ids(h, "Med", "Med > Cancer")],
        [ids(h, "CS", "CS > ML")],
    ]
    pred = [
        [ids(h, "CS", "CS > ML")],
        [ids(h, "CS", "CS > ML")],
        [ids(h, "Med", "Med > Cancer")],
        [ids(h, "Med", "Med > Cancer")],
    ]
    m = evaluate(gold, pred, h)
    level1, level2 = m["per_level"]
    assert level1["level"] == 1 and level1["accuracy"] == pytest.approx(3 / 4)
    assert level2["level"] == 2 and level2["accuracy"] == pytest.approx(2 / 4)
    # Level-1 micro: right 3 of 4 predicted and 4 gold.
    assert level1["micro_f1"] == pytest.approx(3 / 4)


def test_multi_path_documents(toy):
    h = toy
    # One document with two gold paths; the prediction finds one of them.
    gold = [[ids(h, "CS", "CS > ML"), ids(h, "Med", "Med > Cancer")]]
    pred = [[ids(h, "CS", "CS > ML")]]
    m = evaluate(gold, pred, h)
    # Flat: right 2, predicted 2, gold 4 -> P 1, R 0.5, F1 2/3.
    assert m["micro_f1"] == pytest.approx(2 / 3)
    assert m["exact_path_accuracy"] == 0.0
    # Paths: 1 right of 1 predicted and 2 gold; no stray labels, so no penalty.
    assert m["p_micro_f1"] == pytest.approx(2 / 3)


def test_ragged_gold_path_stopping_at_an_internal_node():
    h = Hierarchy.from_tree([{"name": "A", "children": [{"name": "A1"}]}, {"name": "B"}])
    gold = [[(h.index["A"],)], [(h.index["B"],)]]
    pred = [[(h.index["A"],)], [(h.index["A"], h.index["A > A1"])]]
    m = evaluate(gold, pred, h)
    assert m["exact_path_accuracy"] == pytest.approx(0.5)
    assert m["consistency"] == 1.0


def test_confusion_within_a_level(toy):
    h = toy
    gold = [[ids(h, "CS", "CS > ML")], [ids(h, "CS", "CS > CV")], [ids(h, "Med", "Med > Cancer")]]
    pred = [[ids(h, "CS", "CS > ML")], [ids(h, "CS", "CS > ML")], [ids(h, "CS", "CS > CV")]]
    labels, matrix = confusion_at_level(gold, pred, h, 1)
    row = {lab: i for i, lab in enumerate(labels)}
    cs, med = h.index["CS"], h.index["Med"]
    assert matrix[row[cs]][row[cs]] == 2 and matrix[row[med]][row[cs]] == 1


def test_example_based_metrics_and_path_count(toy):
    h = toy
    ml, cv, cancer = ids(h, "CS", "CS > ML"), ids(h, "CS", "CS > CV"), ids(h, "Med", "Med > Cancer")
    gold = [[ml, cancer], [cv], [ml]]
    pred = [[ml], [cv, cancer], []]
    m = evaluate(gold, pred, h)
    # doc 1: {CS, ML} of {CS, ML, Med, Cancer}: P 1, R 1/2, F 2/3; doc 2: {CS, CV} right of 4 predicted: P 1/2,
    # R 1, F 2/3; doc 3: nothing predicted: P 0, R 0, F 0.
    assert m["example_precision"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["example_recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert m["example_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert m["path_count_accuracy"] == 0.0
    m = evaluate(gold, [[cancer, ml], [ml], [cv]], h)
    assert m["path_count_accuracy"] == pytest.approx(1.0) and m["exact_path_accuracy"] == pytest.approx(1 / 3)
