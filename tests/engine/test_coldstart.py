import numpy as np
import pytest

from classifiers.engine.base import HierarchicalClassifier
from classifiers.engine.coldstart import WeakSupervisionClassifier, mine_terms, select_pseudo_labels
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.registry import STRATEGIES, register_strategy


def _tree():
    return Hierarchy.from_paths([["Sport", "Football"], ["Sport", "Tennis"], ["Science", "Physics"]])


def test_mined_terms_of_each_node_include_its_separating_words():
    h = _tree()
    sport, football, tennis, science, physics = (
        h.index[k] for k in ["Sport", "Sport > Football", "Sport > Tennis", "Science", "Science > Physics"]
    )
    texts = (
        ["goal striker penalty match today"] * 4
        + ["racket serve wimbledon match today"] * 4
        + ["quantum particle experiment today"] * 4
    )
    # noisy zero-shot-like scores: mostly right, never certain
    lvl1 = np.array([[0.8, 0.2]] * 8 + [[0.3, 0.7]] * 4)
    lvl2 = np.zeros((12, 3))
    order = {v: h.level_pos[v] for v in (football, tennis, physics)}
    for i in range(12):
        target = football if i < 4 else tennis if i < 8 else physics
        lvl2[i] = 0.15
        lvl2[i, order[target]] = 0.7
    terms = mine_terms(texts, [lvl1, lvl2], h, top_k=5)
    assert {"goal", "striker", "penalty"} <= set(terms[football])
    assert {"racket", "serve", "wimbledon"} <= set(terms[tennis])
    assert "match" in terms[sport] and "quantum" in terms[science]
    assert "today" not in terms[sport] + terms[science]  # shared by all siblings
    assert not {"racket", "quantum"} & set(terms[football])


def test_pseudo_labels_keep_only_confident_documents():
    h = Hierarchy.from_paths([["A"], ["B"], ["C"]])
    scores = [np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.1, 0.75, 0.15], [0.2, 0.2, 0.6]])]
    idx, paths, conf = select_pseudo_labels(scores, h, threshold=0.6)
    assert idx == [0, 2, 3]
    assert paths == [(h.index["A"],), (h.index["B"],), (h.index["C"],)]
    assert conf == [0.9, 0.75, 0.6]
    assert select_pseudo_labels(scores, h, threshold=0.95)[0] == []


class KeywordScorer(HierarchicalClassifier):
    """A stand-in zero-shot scorer: a node scores by how many words of its name + label text a document holds."""

    strategy_name = "keyword-test"

    def __init__(self, label_texts=None):
        self.label_texts = label_texts

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        extra = {int(k): v for k, v in (self.label_texts or {}).items()}
        self.words_ = [
            set(hierarchy.names[v].lower().split()) | set(extra.get(v, "").replace(",", " ").split())
            for v in range(len(hierarchy))
        ]
        return self

    def load_state(self, state, tensors, directory):
        self.fit([], [], self.hierarchy_)

    def predict_scores(self, texts, *, progress=None):
        h = self.hierarchy_
        out = []
        for level in h.levels:
            hits = np.array([[len(self.words_[v] & set(t.split())) + 0.2 for v in level] for t in texts])
            out.append(hits / hits.sum(axis=1, keepdims=True))
        return out


@pytest.fixture
def keyword_scorer():
    register_strategy("keyword-test", "tests.engine.test_coldstart:KeywordScorer")
    yield
    STRATEGIES.pop("keyword-test", None)


def test_weak_pipeline_ignores_gold_paths_and_learns_from_confident_pseudo_labels(keyword_scorer):
    h = Hierarchy.from_paths([["sport"], ["science"]])
    texts = (
        ["sport goal striker penalty"] * 3
        + ["goal striker penalty pitch"] * 3  # no label word: only the mined terms can place them
        + ["science quantum photon laser"] * 3
        + ["quantum photon laser particle"] * 3
    )
    wrong_gold = [(h.index["science"],)] * 12
    weak = WeakSupervisionClassifier(
        base="tfidf", base_params={"min_df": 1}, threshold=0.6, scorer="keyword-test", min_fraction=0.0
    ).fit(texts, wrong_gold, h)
    assert "striker" in weak.terms_[h.index["sport"]] and "photon" in weak.terms_[h.index["science"]]
    assert weak.pseudo_labelled_ == list(range(12))  # enrichment made the unnamed documents confident
    preds = weak.predict(["penalty pitch striker", "laser particle photon"])
    assert [h.names[p[0][0]] for p in preds] == ["sport", "science"]

    plain = WeakSupervisionClassifier(
        base="tfidf", base_params={"min_df": 1}, threshold=0.6, scorer="keyword-test", enrich=False, min_fraction=0.0
    ).fit(texts, wrong_gold, h)
    assert plain.pseudo_labelled_ == [0, 1, 2, 6, 7, 8]


def test_per_class_selection_keeps_the_most_confident_share_of_every_predicted_path():
    from classifiers.engine.coldstart import select_pseudo_labels_per_class

    h = Hierarchy.from_paths([["A"], ["B"], ["C"]])
    # A is predicted confidently four times; B only with low confidence; C never predicted
    scores = [
        np.array(
            [
                [0.9, 0.05, 0.05],
                [0.85, 0.1, 0.05],
                [0.8, 0.1, 0.1],
                [0.75, 0.2, 0.05],
                [0.3, 0.4, 0.3],
                [0.3, 0.45, 0.25],
            ]
        )
    ]
    assert select_pseudo_labels(scores, h, threshold=0.7)[0] == [0, 1, 2, 3]  # global: B is starved
    idx, paths, conf = select_pseudo_labels_per_class(scores, h, threshold=0.95, min_fraction=0.5)
    assert idx == [0, 1, 5]  # top half of A (0, 1) and of B (5, the more confident of 4 and 5)
    assert paths == [(h.index["A"],), (h.index["A"],), (h.index["B"],)]
    assert conf == [0.9, 0.85, 0.45]
    assert select_pseudo_labels_per_class(scores, h, threshold=0.8, min_fraction=0.0)[0] == [0, 1, 2]


def test_weak_pipeline_blends_base_and_enriched_scorer_and_saves_both(keyword_scorer, tmp_path):
    from classifiers.engine.registry import load_estimator

    h = Hierarchy.from_paths([["sport"], ["science"]])
    texts = ["sport goal striker"] * 3 + ["goal striker pitch"] * 3 + ["science photon laser"] * 3
    kwargs = {"base": "tfidf", "base_params": {"min_df": 1}, "threshold": 0.6, "scorer": "keyword-test"}
    weak = WeakSupervisionClassifier(**kwargs, blend=0.25).fit(texts, [], h)
    probe = ["striker pitch", "photon"]
    base = weak.estimator_.predict_scores(probe)
    zs = weak.scorer_.predict_scores(probe)
    blended = weak.predict_scores(probe)
    np.testing.assert_allclose(blended[0], 0.75 * base[0] + 0.25 * zs[0])
    assert not np.allclose(blended[0], base[0])
    plain = WeakSupervisionClassifier(**kwargs, blend=0.0).fit(texts, [], h)
    np.testing.assert_allclose(plain.predict_scores(probe)[0], plain.estimator_.predict_scores(probe)[0])
    weak.save(tmp_path / "weak")
    loaded = load_estimator(tmp_path / "weak")
    np.testing.assert_allclose(loaded.predict_scores(probe)[0], blended[0])
    assert [h.names[p[0][-1]] for p in loaded.predict(probe)] == ["sport", "science"]
    with pytest.raises(ValueError):
        WeakSupervisionClassifier(**kwargs, selection="nope").fit(texts, [], h)
