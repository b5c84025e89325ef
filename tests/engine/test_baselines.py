"""The tfidf and embed baselines learn a small synthetic hierarchy, and save/load predicts identically."""

import numpy as np
import pytest

from classifiers.engine.baselines import EmbeddingLocalClassifier, TfidfLocalClassifier
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.metrics import evaluate
from classifiers.engine.registry import load_estimator
from tests.classifiers.corpus import documents, leaf_paths


def _data():
    docs = documents(seed=11)
    h = Hierarchy.from_paths([list(p) for p in leaf_paths()])
    train = [d for d in docs if d["split"] != "test"]
    test = [d for d in docs if d["split"] == "test"]

    def paths(ds):
        return [[h.path_from_names(d["path"])] for d in ds]

    return h, [d["text"] for d in train], paths(train), [d["text"] for d in test], paths(test)


def _check(estimator, tmp_path):
    h, x_train, y_train, x_test, y_test = _data()
    estimator.fit(x_train, y_train, h)
    predicted = estimator.predict(x_test)
    metrics = evaluate(y_test, predicted, h)
    chance = 1 / len(h.leaves)
    assert metrics["exact_path_accuracy"] >= 0.8 and metrics["exact_path_accuracy"] > 3 * chance
    assert metrics["consistency"] == 1.0
    scores = estimator.predict_scores(x_test)
    assert [s.shape[1] for s in scores] == [len(level) for level in h.levels]
    assert all(np.allclose(s.sum(axis=1), 1.0) for s in scores)
    estimator.save(tmp_path / "model")
    loaded = load_estimator(tmp_path / "model")
    assert type(loaded) is type(estimator)
    assert loaded.predict(x_test) == predicted
    assert np.allclose(loaded.predict_scores(x_test)[-1], scores[-1])


def test_tfidf_learns_the_synthetic_hierarchy_and_round_trips(tmp_path):
    _check(TfidfLocalClassifier(), tmp_path)


@pytest.mark.slow
def test_embed_learns_the_synthetic_hierarchy_and_round_trips(tmp_path):
    _check(EmbeddingLocalClassifier(), tmp_path)


def test_model_files_are_json_and_safetensors_only(tmp_path):
    h, x_train, y_train, _, _ = _data()
    TfidfLocalClassifier().fit(x_train, y_train, h).save(tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["MANIFEST.json", "config.json", "tensors.safetensors"]  # the manifest holds their checksums


def test_one_document_per_path_trains_without_sklearn_guessing_regression(recwarn):
    """Path ids are class labels: sklearn's "more unique classes than half the samples" warning (it suspects a
    regression target; it speaks from 21 documents on) is wrong here and used to fill the job logs at K = 1."""
    names = [[f"group {i % 3}", f"topic {i}"] for i in range(30)]
    h = Hierarchy.from_paths(names)
    texts = [f"alpha{i} beta{i} gamma{i} shared words" for i in range(30)]
    TfidfLocalClassifier(mode="flat").fit(texts, [[h.path_from_names(n)] for n in names], h)
    assert not [w for w in recwarn if "unique classes" in str(w.message)]
