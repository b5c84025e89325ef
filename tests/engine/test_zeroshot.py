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
