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
    training_free = True

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


# ----- weak pipeline details: recorded confidences, given paths, bounded scoring, label-text routing -----
def _two_topics():
    h = Hierarchy.from_paths([["sport"], ["science"]])
    texts = ["sport goal striker"] * 3 + ["science photon laser"] * 3 + ["goal photon"] * 2
    return h, texts


def test_weak_pipeline_records_confidences_and_trains_on_given_paths(keyword_scorer):
    h, texts = _two_topics()
    given = [[]] * 6 + [[(h.index["science"],)], []]  # one document comes with its path (an LLM example)
    weak = WeakSupervisionClassifier(
        base="tfidf",
        base_params={"min_df": 1},
        threshold=0.7,
        scorer="keyword-test",
        enrich=False,
        min_fraction=0.0,
        use_given_paths=True,
    ).fit(texts, given, h)
    assert weak.given_ == [6]
    assert weak.pseudo_labelled_ == [0, 1, 2, 3, 4, 5] and 6 not in weak.pseudo_labelled_
    assert all(c >= 0.7 for c in weak.pseudo_confidence_) and len(weak.pseudo_confidence_) == 6
    assert weak.pseudo_paths_ == [(h.index["sport"],)] * 3 + [(h.index["science"],)] * 3


def test_weak_pipeline_scores_at_most_max_scored_documents(keyword_scorer):
    h, texts = _two_topics()
    weak = WeakSupervisionClassifier(
        base="tfidf", base_params={"min_df": 1}, threshold=0.0, scorer="keyword-test", enrich=False, max_scored=4
    ).fit(texts, [[]] * len(texts), h)
    assert len(weak.pseudo_labelled_) == 4 and set(weak.pseudo_labelled_) <= set(range(len(texts)))


def test_label_texts_reach_llm_scorers_as_prompt_descriptions():
    from classifiers.engine.coldstart import merge_label_texts, scorer_params

    texts = {0: "ball games; goal"}
    assert scorer_params("zeroshot", {"temperature": 0.1}, texts) == {"temperature": 0.1, "label_texts": texts}
    assert scorer_params("llm-tmh", {}, texts) == {"label_descriptions": texts, "use_descriptions": True}
    assert merge_label_texts({0: "ball games"}, {0: ["goal", "pitch"], 1: ["photon"], 2: []}) == {
        0: "ball games; goal, pitch",
        1: "photon",
    }


def test_llm_term_answers_are_validated_as_untrusted():
    from classifiers.engine.llm.enrich import parse_examples, parse_terms, terms_prompt

    ok, reason = parse_terms(
        '{"terms": ["Goal", "goal", "Football", "x" , "y\\u0000z", 5, "a b c d e"]}', name="Football", k=5
    )
    assert (ok, reason) == (["Goal", "x"], "")  # duplicates, the label's own name, control chars, non-strings dropped
    assert parse_terms("goal, striker", name="Football", k=5) == ([], "not a JSON object")
    assert parse_terms('{"terms": "goal"}', name="Football", k=5)[1] == "'terms' is not a list"
    assert parse_terms('{"terms": ["a", "b", "c"]}', name="F", k=2)[0] == ["a", "b"]
    docs, _ = parse_examples('{"documents": ["short", "A long enough example document text.", 3]}', n=3)
    assert docs == ["A long enough example document text."]
    h = _tree()
    prompt = terms_prompt(h, h.index["Sport > Tennis"], 7)
    assert '"Tennis"' in prompt and '"Sport" (its parent)' in prompt and '"Football"' in prompt and "List 7" in prompt
    # A label named like a placeholder is not expanded again.
    odd = Hierarchy.from_paths([["{siblings}"], ["B"]])
    assert '"{siblings}" sits' in terms_prompt(odd, 0, 3)


def test_label_texts_shape_the_verbalizers_starting_label_vectors():
    import torch

    from classifiers.engine.plm import default_encoder_path, label_name_vectors, load_plm

    h = Hierarchy.from_paths([["Sport"], ["Science"]])
    plm = load_plm(default_encoder_path())
    plain = label_name_vectors(plm, h, "tokens")
    rich = label_name_vectors(plm, h, "tokens", {h.index["Sport"]: "goal, striker, penalty"})
    assert not torch.allclose(plain[h.index["Sport"]], rich[h.index["Sport"]])
    assert torch.allclose(plain[h.index["Science"]], rich[h.index["Science"]])


class _Listener:
    """A progress callback that listens to notes (as the jobs' phased progress does): (note, share) and reports."""

    def __init__(self):
        self.events: list[tuple] = []

    def note(self, message: str, share: float | None = None) -> None:
        self.events.append(("note", message, share))

    def __call__(self, done: int, total: int) -> None:
        self.events.append(("report", done, total))


def test_weak_pipeline_names_its_two_steps_and_reports_each_forward(keyword_scorer):
    h, texts = _two_topics()
    listener = _Listener()
    WeakSupervisionClassifier(base="tfidf", base_params={"min_df": 1}, scorer="keyword-test", enrich=False).fit(
        texts, [[]] * len(texts), h, progress=listener
    )
    notes = [(message, share) for kind, message, share in listener.events if kind == "note"]
    assert notes[0] == (f"Pseudo-labelling: scoring {len(texts):,} documents with keyword-test", 0.5)
    training = [i for i, (m, _) in enumerate(notes) if m.startswith("Training tfidf on ")]
    assert training and notes[training[0]][1] == 1.0  # the rest of the caller's phase
    reports = [(done, total) for kind, done, total in listener.events if kind == "report"]
    assert reports and reports[-1][0] == reports[-1][1]  # ends finished
    for (done, total), (next_done, next_total) in zip(reports, reports[1:], strict=False):
        assert total != next_total or next_done >= done  # forward within a step (a new total is a new step)


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


def test_base_defaults_apply_under_the_given_base_params(keyword_scorer, monkeypatch):
    from classifiers.engine import coldstart

    h, texts = _two_topics()
    monkeypatch.setitem(coldstart.BASE_DEFAULTS, "tfidf", {"C": 3.0, "min_df": 2})
    weak = WeakSupervisionClassifier(base="tfidf", base_params={"min_df": 1}, scorer="keyword-test", enrich=False)
    weak.fit(texts, [[]] * len(texts), h)
    assert weak.estimator_.C == 3.0 and weak.estimator_.min_df == 1  # the default under, the caller's over
    assert weak.base_params == {"min_df": 1}  # the parameters themselves stay as given
