"""ensemble: members trained on the same documents, combined log-linearly on path probabilities with weights
fitted on dev; the weights find the informative member, and the output feeds the CRF corrector."""

import hashlib

import numpy as np
import pytest

from classifiers.engine import registry
from classifiers.engine.base import HierarchicalClassifier
from classifiers.engine.ensemble import EnsembleClassifier, fit_weights
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.registry import load_estimator
from classifiers.engine.selection import exact_path
from tests.classifiers.corpus import documents, leaf_paths


class NoiseClassifier(HierarchicalClassifier):
    """Confident random per-level scores, seeded by the text: a member that knows nothing."""

    strategy_name = "noise-test"

    def __init__(self, sharpness: float = 5.0):
        self.sharpness = sharpness

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        self.hierarchy_ = hierarchy
        return self

    def predict_scores(self, texts, *, progress=None):
        out = [np.zeros((len(texts), len(level))) for level in self.hierarchy_.levels]
        for i, text in enumerate(texts):
            rng = np.random.RandomState(int(hashlib.sha1(text.encode()).hexdigest()[:8], 16))
            for d, level in enumerate(self.hierarchy_.levels):
                z = np.exp(self.sharpness * rng.randn(len(level)))
                out[d][i] = z / z.sum()
        return out

    def load_state(self, state, tensors, directory):
        pass


@pytest.fixture
def noise_strategy(monkeypatch):
    target = f"{__name__}:NoiseClassifier"
    monkeypatch.setitem(registry.STRATEGIES, "noise-test", (target, registry.Capabilities.of(NoiseClassifier)))


def _data():
    docs = documents(seed=11) + documents(seed=12)
    h = Hierarchy.from_paths([list(p) for p in leaf_paths()])

    def part(split):
        ds = [d for d in docs if d["split"] == split]
        return [d["text"] for d in ds], [[h.path_from_names(d["path"])] for d in ds]

    return h, part("train"), part("dev"), part("test")


TFIDF = {"strategy": "tfidf", "params": {"mode": "flat", "C": 0.5}}
NOISE = {"strategy": "noise-test", "params": {}}


@pytest.mark.parametrize("members", [[TFIDF, NOISE], [NOISE, TFIDF]])
def test_weights_recover_the_informative_member_when_the_other_is_noise(noise_strategy, members):
    h, (xtr, ytr), dev, (xte, yte) = _data()
    ens = EnsembleClassifier(members=members).fit(xtr, ytr, h, dev=dev)
    w = dict(zip([m["strategy"] for m in members], ens.weights_, strict=True))
    assert w["tfidf"] > 0.5 and w["noise-test"] < 0.1 * w["tfidf"]
    report = ens.report()
    assert [row["name"] for row in report["members"]] == [
        "tfidf(C=0.5, mode=flat)" if m is TFIDF else "noise-test" for m in members
    ]
    assert report["fitted_on"] == "dev" and report["fit_documents"] == len(dev[0])
    tfidf = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    noise_acc = exact_path(ens.estimators_[[m is NOISE for m in members].index(True)].predict(xte), yte)
    assert exact_path(ens.predict(xte), yte) >= exact_path(tfidf.predict(xte), yte) - 0.05 > noise_acc + 0.3


def test_equal_weights_would_let_the_noise_in():
    """The fitted weights matter: with the noise member weighted like the informative one, accuracy drops."""
    rng = np.random.RandomState(0)
    n, p = 300, 6
    gold = rng.randint(p, size=n)
    good = np.log(np.full((n, p), 0.3 / (p - 1)))
    good[np.arange(n), gold] = np.log(0.7)
    noise = np.log(rng.dirichlet(np.full(p, 0.1), size=n) + 1e-12)
    cols = [[int(g)] for g in gold]
    w, _ = fit_weights([good, noise], cols)
    assert w[0] > 0.5 and w[1] < 0.1
    w2, _ = fit_weights([noise, good], cols)
    assert w2[1] > 0.5 and w2[0] < 0.1


def test_without_dev_weights_come_from_a_held_out_share_and_members_refit_on_all(noise_strategy):
    h, (xtr, ytr), _, (xte, _) = _data()
    ens = EnsembleClassifier(members=[TFIDF, NOISE]).fit(xtr, ytr, h)
    assert ens.report()["fitted_on"] == "held-out" and 0 < ens.report()["fit_documents"] < len(xtr)
    alone = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    assert np.allclose(ens.estimators_[0].predict_path_proba(xte), alone.predict_path_proba(xte))
    assert ens.report()["members_trained_on"] == len(xtr) and ens.report()["refit"] is True


def test_refit_off_keeps_the_members_trained_without_the_held_out_share(noise_strategy):
    """`refit=False` (for an expensive member): the weights come from the held-out share as before, and the
    members are the ones trained on the rest, not retrained on all."""
    from classifiers.engine.selection import dev_or_holdout

    h, (xtr, ytr), _, (xte, _) = _data()
    ens = EnsembleClassifier(members=[TFIDF, NOISE], refit=False).fit(xtr, ytr, h)
    report = ens.report()
    tr_texts, tr_paths, ev_texts, _, source = dev_or_holdout(xtr, ytr, None, share=0.2, seed=0)
    assert source == "held-out" and report["refit"] is False
    assert report["members_trained_on"] == len(tr_texts) == len(xtr) - len(ev_texts) < len(xtr)
    on_rest = registry.make_strategy("tfidf", **TFIDF["params"]).fit(tr_texts, tr_paths, h)
    on_all = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    kept = ens.estimators_[0].predict_path_proba(xte)
    assert np.allclose(kept, on_rest.predict_path_proba(xte))
    assert not np.allclose(kept, on_all.predict_path_proba(xte))
    assert ens.weights_[0] > ens.weights_[1]


def test_round_trip_scores_and_crf_corrector(tmp_path, noise_strategy):
    from classifiers.engine.corrector import CRFCorrector

    h, (xtr, ytr), dev, (xte, yte) = _data()
    members = [TFIDF, {"strategy": "tfidf", "params": {"mode": "local", "C": 2.0}}]
    ens = EnsembleClassifier(members=members).fit(xtr, ytr, h, dev=dev)
    scores = ens.predict_scores(xte)
    assert [s.shape for s in scores] == [(len(xte), len(level)) for level in h.levels]
    assert all(np.allclose(s.sum(axis=1), 1.0) for s in scores)
    ens.save(tmp_path / "ens")
    loaded = load_estimator(tmp_path / "ens")
    assert isinstance(loaded, EnsembleClassifier) and loaded.predict(xte) == ens.predict(xte)
    assert np.allclose(loaded.weights_, ens.weights_)
    corrector = CRFCorrector().fit(ens.predict_scores(dev[0]), [p[0] for p in dev[1]], h)
    corrected, _ = corrector.correct(scores, original=[p[0] for p in ens.predict(xte)])
    assert len(corrected) == len(xte) and all(h.is_valid_path(tuple(p)) for p in corrected)


def test_members_are_checked():
    h, (xtr, ytr), _, _ = _data()
    with pytest.raises(ValueError, match="2 to 4 members"):
        EnsembleClassifier(members=[TFIDF]).fit(xtr, ytr, h)
    with pytest.raises(ValueError, match="cannot contain 'ensemble'"):
        EnsembleClassifier(members=[TFIDF, {"strategy": "ensemble"}]).fit(xtr, ytr, h)
