"""Zero-shot from label names: recognisable labels beat chance with no training documents."""

import numpy as np
import pytest

from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.metrics import evaluate
from classifiers.engine.zeroshot import ZeroShotClassifier

pytestmark = pytest.mark.slow

TREE = [
    {"name": "sports", "children": [{"name": "football"}, {"name": "tennis"}]},
    {"name": "cooking", "children": [{"name": "baking"}, {"name": "sushi"}]},
]
DOCS = [
    ("The striker scored a goal and the football fans cheered in the stadium.", ["sports", "football"]),
    ("The goalkeeper saved a penalty in the football match.", ["sports", "football"]),
    ("She won the tennis final with an ace on match point.", ["sports", "tennis"]),
    ("His tennis racket broke during the long rally on the clay court.", ["sports", "tennis"]),
    ("Knead the dough and bake the bread in a hot oven.", ["cooking", "baking"]),
    ("The cake needs flour, sugar and butter before baking.", ["cooking", "baking"]),
    ("Roll the raw fish and rice in seaweed to make sushi.", ["cooking", "sushi"]),
    ("The sushi chef sliced fresh tuna for the nigiri.", ["cooking", "sushi"]),
]


def test_zeroshot_beats_chance_without_training_documents(tmp_path):
    h = Hierarchy.from_tree(TREE)
    gold = [[h.path_from_names(p)] for _, p in DOCS]
    est = ZeroShotClassifier().fit([], [], h)
    pred = est.predict([t for t, _ in DOCS])
    metrics = evaluate(gold, pred, h)
    assert metrics["exact_path_accuracy"] >= 0.75  # chance is 0.25
    assert metrics["consistency"] == 1.0
    scores = est.predict_scores([DOCS[0][0]])
    assert [s.shape for s in scores] == [(1, 2), (1, 4)]
    assert all(np.allclose(s.sum(axis=1), 1.0) for s in scores)
    # Save and load give the same predictions.
    est.save(tmp_path / "zs")
    loaded = ZeroShotClassifier.load(tmp_path / "zs")
    assert loaded.predict([t for t, _ in DOCS]) == pred


def test_label_texts_steer_the_label_representation():
    h = Hierarchy.from_tree([{"name": "A"}, {"name": "B"}])
    plain = ZeroShotClassifier(with_path=False).fit([], [], h)
    described = ZeroShotClassifier(with_path=False, label_texts={0: "volcanoes, lava, eruption"}).fit([], [], h)
    doc = ["Lava flowed down the slopes after the eruption of the volcano."]
    assert described.predict_scores(doc)[0][0, 0] > plain.predict_scores(doc)[0][0, 0]
    assert described.predict(doc) == [[(0,)]]


# Level-1 names carry no meaning; the leaves do (like `alt`, `misc`, `soc` on 20 Newsgroups).
CRYPTIC = {
    ("qzv", "football"): [
        "The striker scored a goal and the football fans cheered in the stadium.",
        "The goalkeeper saved a penalty in the last minute of the football match.",
    ],
    ("qzv", "astronomy"): [
        "The telescope observed a distant galaxy, planets and stars in the night sky.",
        "Astronomers measured the orbit of the comet around the sun.",
    ],
    ("wxk", "cooking"): [
        "Knead the dough, add flour and sugar, and bake the cake in a hot oven.",
        "Simmer the sauce, chop the onions and season the soup before dinner.",
    ],
    ("wxk", "medicine"): [
        "The doctor prescribed antibiotics to treat the patient's infection.",
        "Nurses gave the patient a vaccine and checked the blood pressure.",
    ],
    ("jfp", "politics"): [
        "Parliament voted on the new law after the election campaign of the party.",
        "The minister resigned after the parliament debate on taxes.",
    ],
    ("jfp", "music"): [
        "The guitarist played a song on stage while the drummer kept the rhythm.",
        "The orchestra performed a symphony and the pianist played a concerto.",
    ],
}


def _cryptic():
    h = Hierarchy.from_paths([list(k) for k in CRYPTIC])
    texts = [t for docs in CRYPTIC.values() for t in docs]
    gold = [[h.path_from_names(list(k))] for k, docs in CRYPTIC.items() for _ in docs]
    return h, texts, gold


def test_flat_scoring_beats_chance_and_top_down_when_level_one_names_are_meaningless():
    h, texts, gold = _cryptic()
    flat = evaluate(gold, ZeroShotClassifier().fit([], [], h).predict(texts), h)["exact_path_accuracy"]
    top_down = evaluate(gold, ZeroShotClassifier(scoring="top_down").fit([], [], h).predict(texts), h)
    assert ZeroShotClassifier().scoring == "flat"  # the default
    assert flat >= 0.8  # chance is 1/6
    assert flat >= top_down["exact_path_accuracy"] + 0.25


def test_flat_scores_are_max_marginals_of_the_path_distribution():
    h, texts, _ = _cryptic()
    est = ZeroShotClassifier().fit([], [], h)
    proba, ends = est.path_scores(texts[:3])
    assert proba.shape == (3, len(h)) and ends == list(range(len(h)))
    assert np.allclose(proba.sum(axis=1), 1.0)
    scores = est.predict_scores(texts[:3])
    for level, nodes in enumerate(h.levels):
        best = np.stack([[max(proba[i, e] for e in ends if node in h.path_to(e)) for node in nodes] for i in range(3)])
        assert np.allclose(scores[level], best / best.sum(axis=1, keepdims=True))


def test_path_texts_read_the_whole_path_and_append_label_texts():
    from classifiers.engine.zeroshot import path_texts

    h = Hierarchy.from_paths([["comp", "comp.graphics"], ["rec", "rec.sport.hockey"], ["sports", "football"]])
    texts = path_texts(h, {h.path_from_names(["sports", "football"])[-1]: "soccer"})
    by_name = dict(zip(h.names, texts, strict=True))
    assert by_name["comp.graphics"] == "comp graphics"
    assert by_name["rec.sport.hockey"] == "rec sport hockey"
    assert by_name["football"] == "sports football: soccer"
    assert by_name["comp"] == "comp"


def test_chunks_read_beyond_the_first_window():
    h = Hierarchy.from_paths([["sport", "football"], ["food", "baking"]])
    filler = "Dear all, I hope this message finds you well and that you had a pleasant weekend. " * 3
    text = filler + "The striker scored a goal and the football fans cheered in the stadium."
    one = ZeroShotClassifier(max_length=32).fit([], [], h)
    four = ZeroShotClassifier(max_length=32, chunks=4).fit([], [], h)
    football = h.path_from_names(["sport", "football"])
    assert four.predict([text]) == [[football]]
    assert four.predict_scores([text])[1][0, 0] > one.predict_scores([text])[1][0, 0]
    short = "A football match."
    assert np.allclose(one.embed_documents([short]), four.embed_documents([short]), atol=1e-5)


def test_a_model_saved_before_flat_scoring_loads_as_top_down(tmp_path):
    import json

    h, texts, _ = _cryptic()
    est = ZeroShotClassifier().fit([], [], h)
    est.save(tmp_path / "zs")
    config = json.loads((tmp_path / "zs" / "config.json").read_text())
    config["state"] = {}
    del config["params"]["scoring"]
    (tmp_path / "zs" / "config.json").write_text(json.dumps(config))
    old = ZeroShotClassifier.load(tmp_path / "zs")
    assert old.scoring == "top_down"
    assert ZeroShotClassifier.load(tmp_path / "zs").predict(texts) == ZeroShotClassifier(scoring="top_down").fit(
        [], [], h
    ).predict(texts)
