import numpy as np
import pytest

from classifiers.engine.base import HierarchicalClassifier
from classifiers.engine.cascade import CascadeClassifier
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.registry import STRATEGIES, register_strategy


class ScriptedEstimator(HierarchicalClassifier):
    """Top-level score of node `choice` is the number found after 'p=' in the text for stage 'cheap';
    the expensive stage is always sure of node `choice`."""

    strategy_name = "scripted-test"

    def __init__(self, choice: int = 0, sure: bool = False):
        self.choice = choice
        self.sure = sure

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        self.calls_ = []
        return self

    def predict_scores(self, texts, *, progress=None):
        self.calls_.append(list(texts))
        rows = []
        for t in texts:
            p = 0.99 if self.sure else float(t.split("p=")[1])
            row = np.full(2, (1 - p))
            row[self.choice] = p
            rows.append(row)
        return [np.asarray(rows)]

    def load_state(self, state, tensors, directory):
        self.calls_ = []


@pytest.fixture
def scripted():
    register_strategy("scripted-test", "tests.engine.test_cascade:ScriptedEstimator")
    yield
    STRATEGIES.pop("scripted-test", None)


def _cascade(threshold_last=0.0):
    return CascadeClassifier(
        stages=[
            {"strategy": "scripted-test", "params": {"choice": 0}, "threshold": 0.7},
            {"strategy": "scripted-test", "params": {"choice": 1, "sure": True}, "threshold": threshold_last},
        ],
        calibrate=False,
    )


def test_low_confidence_documents_go_to_the_next_stage(scripted):
    h = Hierarchy.from_paths([["A"], ["B"]])
    texts = ["p=0.9", "p=0.55", "p=0.8", "p=0.6"]
    casc = _cascade().fit(texts, [], h)
    preds = casc.predict(texts)
    assert casc.stages_ == [0, 1, 0, 1]
    assert [p[0] for p in preds] == [(0,), (1,), (0,), (1,)]
    assert casc.estimators_[1].calls_ == [["p=0.55", "p=0.6"]]  # only the escalated documents
    assert casc.needs_review_ == [False] * 4


def test_last_stage_low_confidence_is_flagged_for_review(scripted):
    h = Hierarchy.from_paths([["A"], ["B"]])
    casc = _cascade(threshold_last=0.995).fit(["p=0.9", "p=0.5"], [], h)
    casc.predict(["p=0.9", "p=0.5"])
    assert casc.stages_ == [0, 1]
    assert casc.needs_review_ == [False, True]


def test_cascade_saves_and_loads_with_its_stages(scripted, tmp_path):
    from classifiers.engine.registry import load_estimator

    h = Hierarchy.from_paths([["A"], ["B"]])
    casc = _cascade().fit(["p=0.9"], [], h)
    casc.save(tmp_path)
    again = load_estimator(tmp_path)
    again.predict(["p=0.9", "p=0.5"])
    assert again.stages_ == [0, 1]
