"""auto: trains the candidates that fit the data and the budget, scores them on dev (or a held-out share),
keeps the best, and explains the choice; failures and skips are leaderboard rows, not failed runs."""

import hashlib
import random

import numpy as np
import pytest

from classifiers.engine import registry
from classifiers.engine.auto import AutoClassifier, encoder_reads, standard_error
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.registry import load_estimator
from classifiers.engine.selection import exact_path
from tests.engine.test_ensemble import NoiseClassifier, _data

TFIDF = {"strategy": "tfidf", "params": {"mode": "flat", "C": 0.5}}
NOISE = {"strategy": "noise-test", "params": {}}


class FreeNoise(NoiseClassifier):
    """Noise that needs no labels (like zero-shot)."""

    strategy_name = "free-noise-test"
    training_free = True


class Broken(NoiseClassifier):
    strategy_name = "broken-test"

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        raise RuntimeError("cannot read this corpus")


def register(monkeypatch, *classes) -> None:
    """Make each fake class a strategy under its `strategy_name` for this test."""
    for cls in classes:
        target = f"{cls.__module__}:{cls.__name__}"
        monkeypatch.setitem(registry.STRATEGIES, cls.strategy_name, (target, registry.Capabilities.of(cls)))


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    register(monkeypatch, NoiseClassifier, FreeNoise, Broken)


def test_keeps_the_best_on_dev_with_a_leaderboard_and_a_sentence(tmp_path):
    h, (xtr, ytr), dev, (xte, yte) = _data()
    candidates = [NOISE, TFIDF, {"strategy": "broken-test"}]
    auto = AutoClassifier(candidates=candidates, ensemble=False).fit(xtr, ytr, h, dev=dev)
    report = auto.report()
    rows = {row["name"]: row for row in report["leaderboard"]}
    assert report["kept"] == "tfidf(C=0.5, mode=flat)" and rows["tfidf(C=0.5, mode=flat)"]["status"] == "kept"
    assert rows["broken-test"]["status"].startswith("failed: RuntimeError: cannot read this corpus")
    assert (
        rows["noise-test"]["dev"]["exact_path_accuracy"] < rows["tfidf(C=0.5, mode=flat)"]["dev"]["exact_path_accuracy"]
    )
    assert report["explanation"].startswith("Kept tfidf(C=0.5, mode=flat): best exact-path accuracy on the dev split")
    assert "broken-test not trained" in report["explanation"]
    assert all("train_seconds" in row for row in report["leaderboard"] if row["status"] in ("kept", "trained"))
    alone = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    assert auto.predict(xte) == alone.predict(xte)
    auto.save(tmp_path / "auto")
    loaded = load_estimator(tmp_path / "auto")
    assert loaded.predict(xte) == auto.predict(xte) and loaded.report() == report


def test_the_ensemble_of_the_best_two_weights_the_better_member_and_wins_a_tie_with_it():
    """tfidf and its ensemble with noise both score 1.0 on dev; the ensemble, whose fitted weights all but mute
    the noise, comes first in the tie order and predicts what tfidf alone predicts."""
    h, (xtr, ytr), dev, (xte, _) = _data()
    auto = AutoClassifier(candidates=[NOISE, TFIDF]).fit(xtr, ytr, h, dev=dev)
    rows = {row["name"]: row for row in auto.leaderboard_}
    name = "ensemble(tfidf(C=0.5, mode=flat) + noise-test)"
    ens = rows[name]
    assert ens["strategy"] == "ensemble" and ens["weights"][0] > 20 * ens["weights"][1]
    assert ens["dev"]["exact_path_accuracy"] == rows["tfidf(C=0.5, mode=flat)"]["dev"]["exact_path_accuracy"]
    assert auto.chosen_name_ == name and ens["status"] == "kept"
    assert "tied with tfidf(C=0.5, mode=flat) and first in the order ensemble, hierverb" in auto.explanation_
    alone = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    assert auto.predict(xte) == alone.predict(xte)


def test_without_dev_a_held_out_share_decides_and_the_winner_refits_on_everything():
    h, (xtr, ytr), _, (xte, _) = _data()
    auto = AutoClassifier(candidates=[TFIDF, NOISE], ensemble=False).fit(xtr, ytr, h)
    assert auto.dev_source_ == "held-out" and "held-out share" in auto.explanation_
    kept = next(row for row in auto.leaderboard_ if row["status"] == "kept")
    assert kept["refit"].startswith(f"refitted on all {len(xtr)} training documents")
    alone = registry.make_strategy("tfidf", **TFIDF["params"]).fit(xtr, ytr, h)
    assert auto.predict(xte) == alone.predict(xte)


def test_the_budget_bounds_what_is_trained():
    h, (xtr, ytr), dev, _ = _data()
    second = {"strategy": "tfidf", "params": {"mode": "local"}}
    auto = AutoClassifier(candidates=[TFIDF, second, {"strategy": "hierverb"}], budget_minutes=0).fit(
        xtr, ytr, h, dev=dev
    )
    status = [row["status"] for row in auto.leaderboard_]
    assert status[0] == "kept"  # the cheapest candidate always trains
    assert status[1] == "skipped: the time budget was spent"
    assert status[2].startswith("skipped: about") and "over the budget" in status[2]


def test_with_no_labels_only_training_free_candidates_run():
    h, _, dev, _ = _data()
    auto = AutoClassifier(candidates=[{"strategy": "free-noise-test"}, TFIDF]).fit([], [], h, dev=dev)
    rows = auto.leaderboard_
    assert rows[0]["status"] == "kept" and rows[1]["status"] == "skipped: no labelled training documents"
    assert len(auto.predict(dev[0])) == len(dev[0])


def _random_token_corpus(seed: int, alphabet: str):
    """Leaves own random made-up tokens: only word identity carries the label, no encoder can read them."""
    rng = random.Random(seed)
    names = [("Sport", ["Fußball", "Tennis"]), ("Küche", ["Backen", "Grillen"]), ("Wissenschaft", ["Physik", "Chemie"])]
    h = Hierarchy.from_paths([[top, leaf] for top, leaves in names for leaf in leaves])
    vocab = {}
    for top, leaves in names:
        for leaf in leaves:
            vocab[(top, leaf)] = ["".join(rng.choice(alphabet) for _ in range(6)) for _ in range(8)]
    filler = ["".join(rng.choice(alphabet) for _ in range(5)) for _ in range(30)]

    def docs(n_per_leaf):
        texts, paths = [], []
        for key, words in vocab.items():
            for _ in range(n_per_leaf):
                texts.append(" ".join(rng.sample(words, 3) + rng.sample(filler, 6)))
                paths.append([h.path_from_names(list(key))])
        return texts, paths

    return h, docs(6), docs(3), docs(5)


@pytest.mark.slow
@pytest.mark.parametrize("alphabet", ["abcdefghijklmnopqrstuvwxyzäöüß", "абвгдежзийклмнопрстуфхцчшщыэюя"])
def test_picks_tfidf_where_the_encoder_is_blind_and_other_scripts_run_end_to_end(alphabet):
    h, (xtr, ytr), dev, (xte, yte) = _random_token_corpus(5, alphabet)
    candidates = [{"strategy": "zeroshot"}, {"strategy": "tfidf", "params": {"min_df": 1}}, {"strategy": "embed"}]
    auto = AutoClassifier(candidates=candidates, ensemble=False).fit(xtr, ytr, h, dev=dev)
    rows = {row["strategy"]: row for row in auto.leaderboard_}
    assert set(rows) == {"zeroshot", "tfidf", "embed"} and all("dev" in row for row in rows.values())
    assert rows["tfidf"]["status"] == "kept"
    assert rows["zeroshot"]["dev"]["exact_path_accuracy"] < rows["tfidf"]["dev"]["exact_path_accuracy"]
    assert exact_path(auto.predict(xte), yte) >= 0.8


SIGNAL = {
    ("Sports", "Football"): ["The striker scored a late goal", "Fans cheered the football team's win"],
    ("Sports", "Tennis"): ["She served an ace at Wimbledon", "A long tennis rally on clay"],
    ("Food", "Baking"): ["Knead the dough and bake the bread", "The cake rose in the oven"],
    ("Food", "Grilling"): ["Burgers sizzled on the charcoal grill", "Slow-smoked brisket at the barbecue"],
    ("Science", "Physics"): ["Photons and electrons in quantum experiments", "Relativity bends space and time"],
    ("Science", "Chemistry"): ["The acid reacted with the base in the flask", "Molecules bond in a chemical reaction"],
}
TEST = {
    ("Sports", "Football"): ["The goalkeeper saved a penalty kick", "Midfielders passed the ball upfield"],
    ("Sports", "Tennis"): ["He lost the tiebreak after a double fault", "Her backhand volley won the set"],
    ("Food", "Baking"): ["Flour, sugar and butter make the pastry", "Fresh croissants from the bakery"],
    ("Food", "Grilling"): ["Skewers of chicken over hot coals", "Steaks seared on the barbecue grate"],
    ("Science", "Physics"): ["Particles collide in the accelerator", "Gravity and momentum of planets"],
    ("Science", "Chemistry"): ["Titrate the solution to find its pH", "Compounds of carbon and hydrogen"],
}


@pytest.mark.slow
def test_picks_an_encoder_based_strategy_where_label_names_carry_the_signal():
    h = Hierarchy.from_paths([list(k) for k in SIGNAL])

    def split(table, take):
        items = [(t, [h.path_from_names(list(k))]) for k, ts in table.items() for t in take(ts)]
        return [t for t, _ in items], [p for _, p in items]

    xtr, ytr = split(SIGNAL, lambda ts: ts[:1])
    dev = split(SIGNAL, lambda ts: ts[1:])
    xte, yte = split(TEST, lambda ts: ts)
    candidates = [{"strategy": "zeroshot"}, {"strategy": "tfidf", "params": {"min_df": 1}}, {"strategy": "embed"}]
    auto = AutoClassifier(candidates=candidates).fit(xtr, ytr, h, dev=dev)
    kept = next(row for row in auto.leaderboard_ if row["status"] == "kept")
    rows = {row["strategy"]: row for row in auto.leaderboard_}
    singles = [row for row in auto.leaderboard_ if row["strategy"] != "ensemble"]
    best_single = max(singles, key=lambda row: row["dev"]["exact_path_accuracy"])
    assert best_single["strategy"] in ("zeroshot", "embed") and kept["strategy"] != "tfidf"
    assert kept["dev"]["exact_path_accuracy"] > rows["tfidf"]["dev"]["exact_path_accuracy"]
    assert exact_path(auto.predict(xte), yte) > exact_path(
        registry.make_strategy("tfidf", min_df=1).fit(xtr, ytr, h).predict(xte), yte
    )


def _one_per_path():
    """The first training document of every path, and the test texts: nothing can be held out."""
    h, (xtr, ytr), _, (xte, _) = _data()
    firsts = {}
    for text, path in zip(xtr, ytr, strict=True):
        firsts.setdefault(path[0], text)
    return h, list(firsts.values()), [[p] for p in firsts], xte


def test_with_nothing_to_score_on_only_the_prior_choice_trains():
    """One document per path and no dev split: nothing can be held out, so the prior order (embed, tfidf, ...,
    zeroshot) picks, and only that candidate spends training time."""
    h, texts, paths, xte = _one_per_path()
    auto = AutoClassifier(candidates=[{"strategy": "free-noise-test"}, TFIDF]).fit(texts, paths, h)
    rows = auto.leaderboard_
    assert rows[1]["status"] == "kept" and "train_seconds" in rows[1]
    assert rows[0]["status"] == "skipped: nothing to score candidates on, the prior order chose"
    assert "prior order" in auto.explanation_ and len(auto.predict(xte)) == len(xte)


class FakeVerbalizer(NoiseClassifier):
    """Stands in for hierverb (its name is what the prior order and the fine-tuning estimate look at)."""

    strategy_name = "hierverb"
    epochs = 40

    def epochs_for(self, paths):
        return self.epochs


@pytest.mark.parametrize(
    ("budget", "kept", "skipped"),
    [
        (60.0, "hierverb", "skipped: nothing to score candidates on, the prior order chose"),
        (0.0, "tfidf(C=0.5, mode=flat)", "skipped: about"),  # its fine-tuning does not fit: the next in the order
    ],
)
def test_with_nothing_to_score_on_the_verbalizer_comes_first_when_its_fine_tuning_fits(
    monkeypatch, budget, kept, skipped
):
    register(monkeypatch, FakeVerbalizer)
    h, texts, paths, xte = _one_per_path()
    auto = AutoClassifier(candidates=[TFIDF, {"strategy": "hierverb"}], budget_minutes=budget).fit(texts, paths, h)
    rows = {row["name"]: row for row in auto.leaderboard_}
    assert auto.chosen_name_ == kept and rows[kept]["status"] == "kept"
    other = next(name for name in rows if name != kept)
    assert rows[other]["status"].startswith(skipped)
    assert "prior order hierverb, embed, tfidf, zeroshot decided" in auto.explanation_
    assert len(auto.predict(xte)) == len(xte)


class LongVerbalizer(FakeVerbalizer):
    max_length = 384


def test_the_fine_tuning_estimate_times_the_encoder_at_the_length_the_candidate_trains_at(monkeypatch):
    """The forward pass is timed at the verbalizer's own max_length (it trains at 256 by default; a 128-token
    probe made the estimate low), on the training texts."""
    lengths = []

    class Recorder:
        def __init__(self, model=None, max_length=128, batch_size=32, **kwargs):
            lengths.append(max_length)

        def encode(self, texts):
            return np.zeros((len(texts), 4), dtype=np.float32)

    monkeypatch.setattr("classifiers.engine.embeddings.SentenceEmbedder", Recorder)
    register(monkeypatch, LongVerbalizer)
    h, texts, paths, _ = _one_per_path()
    auto = AutoClassifier(candidates=[TFIDF, {"strategy": "hierverb"}], budget_minutes=60).fit(texts, paths, h)
    assert lengths and set(lengths) == {384}
    assert auto.chosen_name_ == "hierverb"


def elsewhere(h, top) -> list:
    """A path under another level-1 node than `top`."""
    other = next(t for t in h.levels[0] if t != top)
    return [other, h.children[other][0]]


def predict_only(out, i, path, h) -> None:
    """Make document `i`'s per-level scores certain of `path`."""
    for d, node in enumerate(path):
        out[d][i] = 0.0
        out[d][i, h.level_pos[node]] = 1.0


DEV_GOLD: dict[str, tuple] = {}  # dev text -> gold path, for the two fakes below


class HalfRight(NoiseClassifier):
    """Right on every other dev document; on the rest `miss` decides: a sibling leaf (right level 1) or a leaf
    under another level-1 node. Both fakes have the same exact-path accuracy; only micro F1 tells them apart."""

    strategy_name = "far-test"
    miss = "far"

    def predict_scores(self, texts, *, progress=None):
        h = self.hierarchy_
        out = super().predict_scores(texts)
        missed = set(sorted(DEV_GOLD)[1::2])
        for i, text in enumerate(texts):
            gold = DEV_GOLD.get(text)
            if gold is None:
                continue
            path = list(gold)
            if text in missed:
                top, leaf = gold
                if self.miss == "near":
                    path = [top, next(c for c in h.children[top] if c != leaf)]
                else:
                    path = elsewhere(h, top)
            predict_only(out, i, path, h)
        return out


class HalfRightNear(HalfRight):
    strategy_name = "near-test"
    miss = "near"


def test_a_tie_on_exact_path_goes_to_the_better_micro_f1_and_the_sentence_says_so(monkeypatch):
    register(monkeypatch, HalfRight, HalfRightNear)
    h, (xtr, ytr), dev, _ = _data()
    DEV_GOLD.clear()
    DEV_GOLD.update({text: tuple(paths[0]) for text, paths in zip(*dev, strict=True)})
    try:
        auto = AutoClassifier(candidates=[{"strategy": "far-test"}, {"strategy": "near-test"}], ensemble=False).fit(
            xtr, ytr, h, dev=dev
        )
    finally:
        DEV_GOLD.clear()
    rows = {row["name"]: row["dev"] for row in auto.leaderboard_}
    assert rows["far-test"]["exact_path_accuracy"] == rows["near-test"]["exact_path_accuracy"] == 0.5
    assert rows["near-test"]["micro_f1"] > rows["far-test"]["micro_f1"]
    assert auto.chosen_name_ == "near-test"
    assert ", tied with far-test and ahead on micro F1" in auto.explanation_


GOLD: dict[str, list] = {}  # text -> gold path, for the oracles below


class Oracle(NoiseClassifier):
    """Right on a fixed, text-seeded `share` of the documents in GOLD, a leaf under another level-1 node on the
    rest; records what it was trained on."""

    strategy_name = "oracle-test"
    share = 0.5
    trained_on: list = []

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        type(self).trained_on.append(len(texts))
        return super().fit(texts, paths, hierarchy)

    def predict_scores(self, texts, *, progress=None):
        h = self.hierarchy_
        out = super().predict_scores(texts)
        for i, text in enumerate(texts):
            gold = GOLD.get(text)
            if gold is None:
                continue
            path = list(gold)
            if int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 1000 >= 1000 * self.share:
                path = elsewhere(h, gold[0])
            predict_only(out, i, path, h)
        return out


class EmbedOracle(Oracle):
    strategy_name = "embed"
    trained_on: list = []


class WideOracle(Oracle):
    strategy_name = "wide-test"
    trained_on: list = []


@pytest.fixture
def gold():
    h, (xtr, ytr), dev, test = _data()
    GOLD.clear()
    for texts, paths in ((xtr, ytr), dev, test):
        GOLD.update({t: p[0] for t, p in zip(texts, paths, strict=True)})
    yield h, (xtr, ytr), dev, test
    GOLD.clear()


@pytest.mark.parametrize(("embed_share", "kept"), [(0.55, "embed"), (0.3, "wide-test")])
def test_dev_scores_within_one_standard_error_are_tied_and_the_order_decides(monkeypatch, gold, embed_share, kept):
    """0.667 against 0.750 means nothing on 12 dev documents (one standard error 0.130): the order (ensemble,
    hierverb, embed, tfidf, zeroshot) keeps embed and says why; 0.417 against 0.833 is a real gap."""
    h, (xtr, ytr), dev, _ = gold
    monkeypatch.setattr(EmbedOracle, "share", embed_share)
    monkeypatch.setattr(WideOracle, "share", 0.6 if kept == "embed" else 0.75)
    register(monkeypatch, EmbedOracle, WideOracle)
    auto = AutoClassifier(candidates=[{"strategy": "wide-test"}, {"strategy": "embed"}], ensemble=False).fit(
        xtr, ytr, h, dev=dev
    )
    rows = {row["name"]: row["dev"]["exact_path_accuracy"] for row in auto.leaderboard_}
    assert len(dev[0]) == 12 and rows["wide-test"] > rows["embed"]
    assert (rows["wide-test"] - rows["embed"] < standard_error(rows["wide-test"], 12)) == (kept == "embed")
    assert auto.chosen_name_ == kept
    if kept == "embed":
        assert auto.explanation_ == (
            "Kept embed: within one standard error (0.130) of the best exact-path accuracy on the dev split (12"
            " documents), 0.667 against 0.750 for wide-test, and first among those in the order ensemble, hierverb,"
            " embed, tfidf, zeroshot."
        )
    else:
        assert auto.explanation_.startswith("Kept wide-test: best exact-path accuracy on the dev split")


class OracleVerbalizer(Oracle):
    strategy_name = "hierverb"
    share = 0.6
    trained_on: list = []
    epochs = 10

    def epochs_for(self, paths):
        return self.epochs


@pytest.mark.parametrize(("encoder_share", "other"), [(0.9, NOISE), (0.0, TFIDF)])
def test_where_the_held_out_share_is_too_small_the_verbalizer_trains_on_everything_if_the_encoder_reads(
    monkeypatch, gold, encoder_share, other
):
    """No dev split and a small held-out share: when the frozen encoder (embed) is ahead of the other candidates
    there, the verbalizer fine-tunes once on all training documents and is kept, unscored; when another is ahead
    by more than one standard error (a corpus the encoder cannot read), the verbalizer is scored on the held-out
    share like every candidate."""
    h, (xtr, ytr), _, (xte, _) = gold
    monkeypatch.setattr("classifiers.engine.auto._probe_forward_seconds", lambda texts, length=256: 0.0)
    verb, embed = OracleVerbalizer, EmbedOracle
    monkeypatch.setattr(EmbedOracle, "share", encoder_share)
    monkeypatch.setattr(EmbedOracle, "trained_on", [])
    monkeypatch.setattr(OracleVerbalizer, "trained_on", [])
    register(monkeypatch, verb, embed)
    auto = AutoClassifier(candidates=[other, {"strategy": "embed"}, {"strategy": "hierverb"}], budget_minutes=60)
    auto.fit(xtr, ytr, h)
    rows = {row["strategy"]: row for row in auto.leaderboard_}
    n_held_out = len(xtr) - embed.trained_on[0]
    assert auto.dev_source_ == "held-out" and n_held_out > 0
    if encoder_share:
        assert verb.trained_on == [len(xtr)] and "dev" not in rows["hierverb"]
        assert auto.chosen_name_ == "hierverb" and rows["hierverb"]["status"] == "kept"
        assert rows["hierverb"]["refit"].startswith(f"trained on all {len(xtr)} training documents, not scored:")
        assert f"{n_held_out} held-out documents (one standard error" in auto.explanation_
        assert f"(embed {rows['embed']['dev']['exact_path_accuracy']:.3f}" in auto.explanation_
        assert auto.explanation_.startswith("Kept hierverb, trained on all")
        # the estimate counts the fine-tuning epochs over every training document (0.05 s a forward pass)
        assert rows["hierverb"]["estimated_seconds"] == pytest.approx(0.05 * 3.0 * 10 * len(xtr), abs=0.1)
    else:
        assert verb.trained_on[0] == len(xtr) - n_held_out and "dev" in rows["hierverb"]
        assert auto.chosen_name_ != "hierverb"
    assert len(auto.predict(xte)) == len(xte)


class TimedVerbalizer(OracleVerbalizer):
    """A verbalizer that takes `time_limit` (as the real one does) and says it shortened its training."""

    limits: list = []

    def __init__(self, *, time_limit=None, **params):
        super().__init__(**params)
        self.time_limit = time_limit

    def fit(self, texts, paths, hierarchy, *, dev=None, progress=None):
        type(self).limits.append(self.time_limit)
        self.time_limited_ = (40, 25)
        return super().fit(texts, paths, hierarchy, dev=dev, progress=progress)


def test_the_verbalizer_is_held_to_what_is_left_of_the_budget(monkeypatch, gold):
    """The fine-tuning estimate is a plan: the verbalizer gets the budget left after the candidates before it (and
    its held-out predictions) as its `time_limit`, and the leaderboard says when it had to stop early."""
    h, (xtr, ytr), dev, _ = gold
    monkeypatch.setattr("classifiers.engine.auto._probe_forward_seconds", lambda texts, length=256: 0.0)
    monkeypatch.setattr(TimedVerbalizer, "limits", [])
    register(monkeypatch, TimedVerbalizer)
    auto = AutoClassifier(candidates=[TFIDF, {"strategy": "hierverb"}], budget_minutes=10, ensemble=False)
    auto.fit(xtr, ytr, h, dev=dev)
    rows = {row["strategy"]: row for row in auto.leaderboard_}
    # 600 s less what tfidf took, less 0.05 s for each of the 12 dev documents hierverb then predicts
    assert 600 - 0.05 * 12 - 5 < TimedVerbalizer.limits[0] <= 600 - 0.05 * 12
    assert rows["hierverb"]["time_limited"] == "trained 25 of 40 planned steps to end within the budget"
    assert "time_limited" not in rows["tfidf"]
    # a strategy without `time_limit` is not given one (OracleVerbalizer would fail on it)
    register(monkeypatch, OracleVerbalizer)
    auto = AutoClassifier(candidates=[TFIDF, {"strategy": "hierverb"}], budget_minutes=10, ensemble=False)
    auto.fit(xtr, ytr, h, dev=dev)
    assert all(not row["status"].startswith("failed") for row in auto.leaderboard_)


def _scored(strategy: str, accuracy: float) -> dict:
    return {"name": strategy, "strategy": strategy, "dev": {"exact_path_accuracy": accuracy, "micro_f1": accuracy}}


@pytest.mark.parametrize(
    ("embed", "tfidf", "reads"),
    [
        (0.683, 0.717, True),  # 2 of 60 documents behind: less than one standard error (0.058)
        (0.7, 0.5, True),
        (0.55, 0.75, False),  # 12 of 60 behind: the encoder does not read this corpus as well
    ],
)
def test_the_encoder_reads_a_corpus_unless_it_is_more_than_one_standard_error_behind(embed, tfidf, reads):
    rows = [_scored("zeroshot", 0.4), _scored("tfidf", tfidf), _scored("embed", embed), _scored("ensemble", 0.99)]
    got = encoder_reads(rows, 60)
    assert (got is not None) == reads
    if reads:
        assert got[0]["strategy"] == "embed" and got[1]["strategy"] == "tfidf"
    assert encoder_reads([_scored("tfidf", 0.5)], 60) is None  # nothing says how the encoder reads it
