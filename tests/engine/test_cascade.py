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


class InconsistentEstimator(HierarchicalClassifier):
    """Two levels; level 1 is sure of A, level 2 of B's child: the argmax path is inconsistent."""

    strategy_name = "inconsistent-test"
    decode = "argmax"

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        return self

    def predict_scores(self, texts, *, progress=None):
        n = len(texts)
        return [np.tile([0.9, 0.1], (n, 1)), np.tile([0.1, 0.9], (n, 1))]

    def load_state(self, state, tensors, directory):
        pass


class CountingLLMStage(HierarchicalClassifier):
    """Decides its own paths (like an LLM strategy) and reports one call per document it saw."""

    strategy_name = "counting-test"

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        return self

    def predict(self, texts, *, progress=None):
        self.stats_ = {"calls": len(texts), "prompt_tokens": 10 * len(texts), "completion_tokens": 2 * len(texts)}
        self.valid_ = [True] * len(texts)
        self.raw_outputs_ = [f"answer {t}" for t in texts]
        return [[(1,)] for _ in texts]

    def predict_scores(self, texts, *, progress=None):
        return [np.tile([0.0, 1.0], (len(texts), 1))]

    def load_state(self, state, tensors, directory):
        pass


class OverconfidentEstimator(HierarchicalClassifier):
    """Says 0.97 for its answer, but the answer ('g=<gold>' in the text) is right only for 'ok' texts."""

    strategy_name = "overconfident-test"

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        return self

    def predict_scores(self, texts, *, progress=None):
        rows = []
        for t in texts:
            gold = int(t.split("g=")[1][0])
            choice = gold if "ok" in t else 1 - gold
            row = np.full(2, 0.03)
            row[choice] = 0.97
            rows.append(row)
        return [np.asarray(rows)]

    def load_state(self, state, tensors, directory):
        pass


@pytest.fixture
def test_strategies():
    names = {
        "inconsistent-test": "InconsistentEstimator",
        "counting-test": "CountingLLMStage",
        "overconfident-test": "OverconfidentEstimator",
    }
    for name, cls in names.items():
        register_strategy(name, f"tests.engine.test_cascade:{cls}")
    register_strategy("scripted-test", "tests.engine.test_cascade:ScriptedEstimator")
    yield
    for name in [*names, "scripted-test"]:
        STRATEGIES.pop(name, None)


def _two_level():
    return Hierarchy.from_paths([["A", "A1"], ["B", "B1"]])


def test_a_stage_crf_corrector_turns_an_inconsistent_path_into_a_valid_one(test_strategies, tmp_path):
    from classifiers.engine.registry import load_estimator

    h = _two_level()
    a, a1, b, b1 = (h.index[n] for n in ("A", "A > A1", "B", "B > B1"))
    dev = (["d1", "d2", "d3"], [[(a, a1)], [(a, a1)], [(b, b1)]])
    casc = CascadeClassifier(
        stages=[{"strategy": "inconsistent-test", "corrector": "crf", "threshold": 0.0}], calibrate=False
    ).fit(["t"], [[(a, a1)]], h, dev=dev)
    paths = casc.predict(["x", "y"])
    assert all(h.is_valid_path(p[0]) for p in paths)
    assert casc.corrected_from_ == [(a, b1), (a, b1)]  # what the stage's own decoding said
    assert casc.stage_names_ == ["1:inconsistent-test+crf"] * 2
    casc.save(tmp_path)
    again = load_estimator(tmp_path)
    assert again.correctors_[0] is not None and again.predict(["x"]) == [paths[0]]


def test_llm_like_stage_is_counted_only_for_the_documents_routed_to_it(test_strategies):
    h = Hierarchy.from_paths([["A"], ["B"]])
    casc = CascadeClassifier(
        stages=[
            {"strategy": "scripted-test", "params": {"choice": 0}, "threshold": 0.7},
            {"strategy": "counting-test", "threshold": 0.0},
        ],
        calibrate=False,
    ).fit([], [], h)
    texts = ["p=0.9", "p=0.55", "p=0.95", "p=0.6", "p=0.65"]
    preds = casc.predict(texts)
    one, two = "1:scripted-test", "2:counting-test"
    assert casc.stage_names_ == [one, two, one, two, two]
    assert [p[0] for p in preds] == [(0,), (1,), (0,), (1,), (1,)]
    assert casc.stage_stats_[0]["routed"] == 5 and casc.stage_stats_[0]["decided"] == 2
    assert casc.stage_stats_[1]["routed"] == 3 and casc.stage_stats_[1]["calls"] == 3
    assert casc.stats_["calls"] == 3 and casc.stats_["prompt_tokens"] == 30
    assert casc.raw_outputs_ == ["", "answer p=0.55", "", "answer p=0.6", "answer p=0.65"]
    casc.predict_scores(texts)  # a repeat on the same texts reuses the answers
    assert casc.stats_["calls"] == 3


def test_no_llm_stage_reports_no_llm_figures(test_strategies):
    h = Hierarchy.from_paths([["A"], ["B"]])
    casc = _cascade().fit([], [], h)
    casc.predict(["p=0.9"])
    assert not hasattr(casc, "stats_")


def test_stage_hook_sees_every_stage_after_fitting(test_strategies):
    h = Hierarchy.from_paths([["A"], ["B"]])
    seen = []
    casc = _cascade().set_runtime(stage_hook=lambda k, est: seen.append((k, hasattr(est, "hierarchy_"))))
    casc.fit([], [], h)
    assert seen == [(0, True), (1, True)]


def test_calibration_on_dev_lowers_the_ece_of_an_overconfident_stage(test_strategies):
    h = Hierarchy.from_paths([["A"], ["B"]])
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 200)
    ok = rng.random(200) < 0.6
    texts = [f"{'ok' if o else 'no'} g={g}" for g, o in zip(gold, ok, strict=True)]
    dev = (texts, [[(int(g),)] for g in gold])
    casc = CascadeClassifier(stages=[{"strategy": "overconfident-test", "threshold": 0.0}]).fit([], [], h, dev=dev)
    report = casc.calibration_[0]
    assert report["temperatures"][0] > 1.5  # over-confident: flattened
    assert report["ece_after"] < report["ece_before"] / 2
    assert casc.dev_report_[0]["correct"] == [bool(o) for o in ok]
    # The stored temperature is applied at prediction time: the confidence is no longer 0.97.
    casc.predict(["ok g=1"])
    assert abs(casc.confidences_[0] - 0.6) < 0.1
