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
