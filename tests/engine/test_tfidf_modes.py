"""tfidf's modes: `auto` keeps whichever of flat (one regression over paths) and local scores better on dev
(or on a held-out share), C and n-grams are searched the same way, and the choice survives save/load."""

import json
import random

import numpy as np

from classifiers.engine.baselines import TfidfLocalClassifier
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.registry import load_estimator
from classifiers.engine.selection import exact_path, stratified_holdout
from tests.classifiers.corpus import documents, leaf_paths


def _data(seed: int = 11):
    docs = documents(seed=seed)
    h = Hierarchy.from_paths([list(p) for p in leaf_paths()])

    def part(split):
        ds = [d for d in docs if d["split"] == split]
        return [d["text"] for d in ds], [[h.path_from_names(d["path"])] for d in ds]

    return h, part("train"), part("dev"), part("test")


def test_auto_keeps_the_mode_that_scores_better_on_dev():
    h, (xtr, ytr), dev, _ = _data()
    scores = {}
    for mode in ("flat", "local"):
        est = TfidfLocalClassifier(mode=mode, C=0.3).fit(xtr, ytr, h)
        scores[mode] = exact_path(est.predict(dev[0]), dev[1])
    auto = TfidfLocalClassifier(mode="auto", C=0.3).fit(xtr, ytr, h, dev=dev)
    best = max(("flat", "local"), key=lambda m: (scores[m], m == "flat"))
    assert auto.mode_ == best and auto.is_flat == (best == "flat")
    assert {row["mode"]: row["score"] for row in auto.selection_} == scores
    assert all(row["on"] == "dev" for row in auto.selection_)
    chosen = TfidfLocalClassifier(mode=best, C=0.3).fit(xtr, ytr, h)
    assert auto.predict(dev[0]) == chosen.predict(dev[0])


def test_ngram_search_finds_the_bigrams_that_carry_the_label():
    """Both classes use the same words; only their order (a bigram) tells them apart."""
    h = Hierarchy.from_paths([["A"], ["B"]])
    rng = random.Random(3)

    def docs(n):
        texts, paths = [], []
        for i in range(n):
            label = i % 2
            pairs = ["red blue" if label == 0 else "blue red"] + rng.sample(["alpha", "beta", "gamma", "delta"], 2)
            texts.append(" ".join(pairs))
            paths.append([(h.path_from_names(["A" if label == 0 else "B"]))])
        return texts, paths

    (xtr, ytr), dev, test = docs(40), docs(20), docs(20)
    est = TfidfLocalClassifier(mode="flat", ngram_range=[[1, 1], [1, 2]], min_df=1).fit(xtr, ytr, h, dev=dev)
    assert est.ngram_range_ == (1, 2)
    by_grams = {tuple(row["ngram_range"]): row["score"] for row in est.selection_}
    assert by_grams[(1, 2)] == 1.0 and by_grams[(1, 1)] < 0.8
    assert exact_path(est.predict(test[0]), test[1]) == 1.0


def test_without_dev_a_seeded_held_out_share_chooses_then_all_documents_train():
    h, (xtr, ytr), _, (xte, yte) = _data()
    est = TfidfLocalClassifier(C=[0.01, 10.0]).fit(xtr, ytr, h)
    assert len(est.selection_) == 4 and {row["on"] for row in est.selection_} == {"held-out"}
    best = max(est.selection_, key=lambda row: row["score"])
    assert est.selection_[0]["score"] <= best["score"]
    assert est.C_ in (0.01, 10.0) and est.mode_ in ("flat", "local")
    # refitted on every training document: a word only a held-out document has is in the vocabulary
    kept, held = stratified_holdout(ytr, 0.2, 0)
    assert held and len(kept) + len(held) == len(xtr)
    refit = TfidfLocalClassifier(C=est.C_, mode=est.mode_).fit(xtr, ytr, h)
    assert est.predict(xte) == refit.predict(xte)


def test_stratified_holdout_is_seeded_and_keeps_rare_paths():
    paths = [[(0, 1)]] * 10 + [[(0, 2)]] * 2
    kept, held = stratified_holdout(paths, 0.2, seed=5)
    assert held == stratified_holdout(paths, 0.2, seed=5)[1]
    assert len(held) == 2 and all(i < 10 for i in held)  # the 2-document path keeps both
    assert sorted(kept + held) == list(range(12))


def test_choice_survives_save_and_load_and_old_models_load_as_local(tmp_path):
    h, (xtr, ytr), dev, (xte, _) = _data()
    est = TfidfLocalClassifier(C=[1.0, 10.0]).fit(xtr, ytr, h, dev=dev)
    est.save(tmp_path / "m")
    loaded = load_estimator(tmp_path / "m")
    assert (loaded.mode, loaded.mode_, loaded.C_, loaded.ngram_range_) == ("auto", est.mode_, est.C_, (1, 2))
    assert loaded.predict(xte) == est.predict(xte)
    assert np.allclose(loaded.predict_scores(xte)[-1], est.predict_scores(xte)[-1])
    # a model saved before modes existed: no mode parameter, no chosen C, local groups
    local = TfidfLocalClassifier(mode="local").fit(xtr, ytr, h)
    local.save(tmp_path / "old")
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    for key in ("mode", "holdout_share", "seed"):
        del config["params"][key]
    del config["state"]["chosen"], config["state"]["selection"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(config))
    old = load_estimator(tmp_path / "old")
    assert old.mode_ == "local" and not old.is_flat and old.predict(xte) == local.predict(xte)


def test_path_probabilities_are_exact_in_both_modes():
    h, (xtr, ytr), _, (xte, _) = _data()
    leaves = [p[-1] for p in h.leaf_paths()]
    for mode in ("flat", "local"):
        est = TfidfLocalClassifier(mode=mode).fit(xtr, ytr, h)
        proba = est.predict_path_proba(xte)
        assert proba.shape == (len(xte), len(leaves)) and np.allclose(proba.sum(axis=1), 1.0)
        best = [h.leaf_paths()[j] for j in proba.argmax(axis=1)]
        assert [[p] for p in best] == est.predict(xte)
