"""embed's flat mode: one logistic regression over whole paths, its per-level scores, old local models, growth."""

import json

import numpy as np

from classifiers.engine.base import decode_scores
from classifiers.engine.baselines import EmbeddingLocalClassifier
from classifiers.engine.growth import update_for_new_labels
from classifiers.engine.hierarchy import Hierarchy

VECTORS: dict[str, np.ndarray] = {}
PRIOR: dict[str, np.ndarray] = {}  # node name -> label vector; empty: no prior


class VecEmbed(EmbeddingLocalClassifier):
    """The embed estimator with fixed vectors instead of the encoder (texts are keys of VECTORS; label vectors
    of the prior come from PRIOR)."""

    def _fit_features(self, texts, progress):
        return self._features(texts, progress)

    def _features(self, texts, progress):
        return np.stack([VECTORS[t] for t in texts])

    def _prior_vectors(self, nodes):
        if not PRIOR:
            return None
        return np.stack([PRIOR[self.hierarchy_.names[int(n)]] for n in nodes])


def _skewed(seed: int = 0, k: int = 1, n_test: int = 40, noise: float = 0.2):
    """Parent A with 5 leaves, B with 1 (like comp and alt in 20 Newsgroups); K training documents per leaf.

    Every leaf is a direction of its own, so a flat classifier sees balanced classes, while the local root
    classifier sees 5 A documents for each B one."""
    h = Hierarchy.from_paths([["A", f"a{i}"] for i in range(5)] + [["B", "b"]])
    leaves = [h.path_from_names(["A", f"a{i}"]) for i in range(5)] + [h.path_from_names(["B", "b"])]
    rng = np.random.RandomState(seed)

    def docs(prefix, per_leaf):
        texts, paths = [], []
        for j, path in enumerate(leaves):
            for i in range(per_leaf):
                v = np.eye(8)[j] + rng.normal(0, noise, 8)
                VECTORS[f"{prefix}{j}.{i}"] = (v / np.linalg.norm(v)).astype(np.float32)
                texts.append(f"{prefix}{j}.{i}")
                paths.append([path])
        return texts, paths

    return (h, *docs(f"train{seed}.", k), *docs(f"test{seed}.", n_test))


def _exact(est, texts, gold):
    return float(np.mean([p == g for p, g in zip(est.predict(texts), gold, strict=True)]))


def test_flat_beats_local_when_top_down_compounds_a_skewed_root():
    flat, local = [], []
    for seed in range(3):
        h, xtr, ytr, xte, yte = _skewed(seed)
        flat.append(_exact(VecEmbed(mode="flat").fit(xtr, ytr, h), xte, yte))
        local.append(_exact(VecEmbed(mode="local").fit(xtr, ytr, h), xte, yte))
    assert np.mean(flat) >= 0.9
    assert np.mean(flat) > np.mean(local) + 0.1


def test_flat_level_scores_are_max_marginals_and_every_decoder_returns_the_best_path():
    h, xtr, ytr, xte, _ = _skewed(1, k=3)
    est = VecEmbed().fit(xtr, ytr, h)
    assert est.mode == "flat"
    s1, s2 = est.predict_scores(xte)
    assert np.allclose(s1.sum(axis=1), 1.0) and np.allclose(s2.sum(axis=1), 1.0)
    leaves = h.levels[1]
    # every path reaches level 2, so level 2 holds the path probabilities; a parent scores its best child
    best_child = np.stack([s2[:, [h.level_pos[c] for c in h.children[p]]].max(axis=1) for p in h.levels[0]], axis=1)
    assert np.allclose(s1, best_child / best_child.sum(axis=1, keepdims=True))
    best_path = [h.path_to(leaves[j]) for j in s2.argmax(axis=1)]
    for mode in ("top_down", "best_path", "argmax"):
        assert decode_scores([s1, s2], h, mode) == best_path
    assert [p[0] for p in est.predict(xte)] == best_path


def test_flat_round_trips_and_an_old_local_model_still_loads_as_local(tmp_path):
    h, xtr, ytr, xte, _ = _skewed(2, k=2)
    flat = VecEmbed().fit(xtr, ytr, h)
    flat.save(tmp_path / "flat")
    again = VecEmbed.load(tmp_path / "flat")
    assert again.mode == "flat" and np.allclose(again.predict_scores(xte)[1], flat.predict_scores(xte)[1])

    local = VecEmbed(mode="local", C=10.0, max_length=128).fit(xtr, ytr, h)
    local.save(tmp_path / "old")
    config_file = tmp_path / "old" / "config.json"
    config = json.loads(config_file.read_text())
    del config["params"]["mode"], config["state"]["mode"]  # as saved before `mode` existed
    config_file.write_text(json.dumps(config))
    old = VecEmbed.load(tmp_path / "old")
    assert old.mode == "local" and old.C == 10.0 and old.max_length == 128
    assert old.predict(xte) == local.predict(xte)
    assert np.allclose(old.predict_scores(xte)[1], local.predict_scores(xte)[1])


def test_growth_on_a_flat_model_keeps_untouched_paths_and_learns_the_new_leaf(tmp_path):
    h, xtr, ytr, xte, _ = _skewed(3, k=3)
    old = VecEmbed().fit(xtr, ytr, h)
    new_h = Hierarchy.from_paths([["A", f"a{i}"] for i in range(5)] + [["B", "b"], ["B", "b2"]])
    remap = {p: new_h.path_from_names([h.names[n] for n in p]) for p in h.leaf_paths()}
    b2 = new_h.path_from_names(["B", "b2"])
    new_texts = []
    for i in range(6):  # the new leaf's documents look like B's (direction 5) and have words of their own (7)
        v = 2 * np.eye(8)[5] + np.eye(8)[7] + np.random.RandomState(i).normal(0, 0.2, 8)
        VECTORS[f"b2.{i}"] = (v / np.linalg.norm(v)).astype(np.float32)
        new_texts.append(f"b2.{i}")
    new = update_for_new_labels(old, new_h, new_texts[:4], [[b2]] * 4, xtr, ytr, rehearsal=1.0, seed=0)
    assert [new_h.ids[p] if p >= 0 else None for p in new.updated_groups_] == ["B"]
    old_s2, new_s2 = old.predict_scores(xte)[1], new.predict_scores(xte)[1]
    for i in range(5):  # paths under A keep their probabilities exactly
        a_old, a_new = h.path_from_names(["A", f"a{i}"])[-1], new_h.path_from_names(["A", f"a{i}"])[-1]
        assert np.allclose(old_s2[:, h.level_pos[a_old]], new_s2[:, new_h.level_pos[a_new]])
    assert [p[0] for p in new.predict(new_texts[4:])] == [b2, b2]
    assert [p[0] for p in new.predict(xte)][:40] == [remap[p[0]] for p in old.predict(xte)][:40]
    new.save(tmp_path / "grown")
    loaded = VecEmbed.load(tmp_path / "grown")
    assert np.allclose(loaded.predict_scores(xte)[1], new_s2)


def _prior_run(k: int, labels: list[int], weight, seeds=range(4), noise: float = 0.45):
    """Mean exact-path accuracy and fitted weights of VecEmbed with the prior of leaf j = direction labels[j]."""
    names = [f"a{i}" for i in range(5)] + ["b"]
    PRIOR.clear()
    PRIOR.update({n: np.eye(8)[labels[j]].astype(np.float32) for j, n in enumerate(names)})
    accs, weights = [], []
    try:
        for seed in seeds:
            h, xtr, ytr, xte, yte = _skewed(100 + seed, k=k, noise=noise)
            est = VecEmbed(prior_weight=weight).fit(xtr, ytr, h)
            accs.append(_exact(est, xte, yte))
            weights.append(est.flat_["prior_weight"])
    finally:
        PRIOR.clear()
    return float(np.mean(accs)), weights


def test_the_label_prior_helps_at_one_shot():
    true = list(range(6))
    with_prior, weights = _prior_run(1, true, "auto")
    without, _ = _prior_run(1, true, 0)
    assert weights == [1.0] * 4  # one document per path: the one-shot default
    assert with_prior >= without + 0.05


def test_the_fitted_prior_weight_follows_whether_the_prior_is_right():
    true, wrong = list(range(6)), [1, 2, 3, 4, 5, 0]  # wrong: every leaf named after another leaf's direction
    right_acc, right_w = _prior_run(8, true, "auto")
    wrong_acc, wrong_w = _prior_run(8, wrong, "auto")
    without, _ = _prior_run(8, true, 0)
    assert min(right_w) > 0 and max(wrong_w) <= 0.0625
    assert right_acc >= without - 0.01
    assert wrong_acc >= without - 0.03  # a misleading prior is (nearly) switched off
    assert _prior_run(8, wrong, 1.0)[0] < wrong_acc  # forced on, it would have hurt


def test_the_prior_round_trips(tmp_path):
    PRIOR.update({n: np.eye(8)[j].astype(np.float32) for j, n in enumerate([f"a{i}" for i in range(5)] + ["b"])})
    try:
        h, xtr, ytr, xte, _ = _skewed(7, k=1, noise=0.45)
        est = VecEmbed().fit(xtr, ytr, h)
    finally:
        PRIOR.clear()
    est.save(tmp_path / "prior")
    loaded = VecEmbed.load(tmp_path / "prior")
    assert loaded.flat_["prior_weight"] == 1.0
    assert np.allclose(loaded.predict_scores(xte)[1], est.predict_scores(xte)[1])
