"""Cancel reaches the engine between steps (issue 21, item 2): every torch strategy reports after each training
step and each encoding batch, so a progress callback that raises `Cancelled` stops it there, not after the work."""

from __future__ import annotations

import pytest

from classifiers.engine.base import Cancelled
from tests.engine.test_verbalizer import (  # noqa: F401 (one_torch_thread: the module's autouse fixture)
    TREE,
    corpus,
    one_torch_thread,
    write_tiny_checkpoint,
)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_enc"), mlm_head=False)


@pytest.fixture
def data():
    from classifiers.engine.hierarchy import Hierarchy

    hierarchy = Hierarchy.from_paths([[p, c] for p, kids in TREE.items() for c in kids])
    texts, paths = corpus(hierarchy, per_leaf=6, seed=1)
    return texts, paths, hierarchy


def _make(strategy: str, encoder: str):
    from classifiers.engine.registry import make_strategy

    common = {"batch_size": 4, "max_length": 24}
    evaluation = {"eval_batch_size": 4}
    if strategy == "embed":
        return make_strategy("embed", model_path=encoder, **common)
    if strategy == "hierverb":
        return make_strategy("hierverb", encoder_path=encoder, epochs=2, **common, **evaluation)
    return make_strategy(
        "hiericrf", encoder_path=encoder, epochs=2, iter_num=2, **{**common, "max_length": 48}, **evaluation
    )


class StopAfter:
    """A progress callback that cancels on its n-th call and remembers what it was told."""

    def __init__(self, n: int = 1):
        self.n = n
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if len(self.calls) >= self.n:
            raise Cancelled("stop")


@pytest.mark.parametrize("strategy", ["embed", "hierverb", "hiericrf"])
def test_training_stops_at_the_first_step_after_a_cancel(strategy, tiny_encoder, data):
    texts, paths, hierarchy = data
    stop = StopAfter(1)
    with pytest.raises(Cancelled):
        _make(strategy, tiny_encoder).fit(texts, paths, hierarchy, progress=stop)
    done, total = stop.calls[0]
    assert done < total, f"{strategy} reported only after all {total} steps"


@pytest.mark.parametrize("strategy", ["embed", "hierverb", "hiericrf"])
def test_prediction_stops_between_encoding_batches(strategy, tiny_encoder, data):
    texts, paths, hierarchy = data
    model = _make(strategy, tiny_encoder).fit(texts, paths, hierarchy)
    stop = StopAfter(1)
    with pytest.raises(Cancelled):
        model.predict_scores([f"{t} again" for t in texts], progress=stop)
    done, total = stop.calls[0]
    assert done < total


class CancelAfter:
    """A job-like progress callback: reports pass, `cancel_requested()` says yes from its `n`-th question on (or
    once `flip()` was called); it counts the questions asked after the cancel."""

    def __init__(self, n: int | None = None):
        self.n = n
        self.asked = 0
        self.cancelled = False
        self.asked_after_cancel = 0
        self.reports: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.reports.append((done, total))
        if self.cancelled:  # the jobs' progress raises on a report once a cancel is seen
            raise Cancelled("stop")

    def flip(self) -> None:
        self.cancelled = True

    def cancel_requested(self) -> bool:
        self.asked += 1
        if self.n is not None and self.asked >= self.n:
            self.cancelled = True
        if self.cancelled:
            self.asked_after_cancel += 1
        return self.cancelled


def noisy_corpus(seed: int, per_leaf: int = 60):
    """Nine leaves under three parents; label words are swapped for another leaf's 45% of the time, so the
    logistic regressions need many lbfgs iterations (unlike the separable corpus above)."""
    import random

    from classifiers.engine.hierarchy import Hierarchy

    rng = random.Random(seed)
    leaves = [(parent, f"{parent}{k}") for parent in ("a", "b", "c") for k in range(3)]
    hierarchy = Hierarchy.from_paths([list(leaf) for leaf in leaves])
    words = {leaf: [f"{leaf}w{i}" for i in range(8)] for _, leaf in leaves}
    filler = [f"f{i}" for i in range(300)]
    texts, paths = [], []
    for parent, leaf in leaves:
        for _ in range(per_leaf):
            tokens = [rng.choice(words[leaf if rng.random() > 0.45 else rng.choice(leaves)[1]]) for _ in range(3)]
            tokens += rng.sample(filler, 12)
            rng.shuffle(tokens)
            texts.append(" ".join(tokens))
            paths.append(hierarchy.path_from_names([parent, leaf]))
    return texts, paths, hierarchy


@pytest.mark.parametrize("mode", ["flat", "local"])
def test_a_logistic_regression_fit_stops_between_its_iteration_pieces(mode, monkeypatch):
    """A cancel asked while scikit-learn fits is seen before the next piece of lbfgs iterations: no piece runs
    after it (counted by the pieces fitted, not by the clock)."""
    from sklearn.linear_model import LogisticRegression

    from classifiers.engine import baselines
    from classifiers.engine.registry import make_strategy

    texts, paths, hierarchy = noisy_corpus(1)
    monkeypatch.setattr(baselines, "LR_CHUNK_ITERATIONS", 2)
    pieces = []
    real_fit = LogisticRegression.fit

    def counting_fit(self, X, y, *args, **kwargs):
        pieces.append(self.max_iter)
        return real_fit(self, X, y, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", counting_fit)
    progress = CancelAfter(n=3)  # the third question: after two pieces of the first regression
    with pytest.raises(Cancelled):
        make_strategy("tfidf", mode=mode).fit(texts, paths, hierarchy, progress=progress)
    assert len(pieces) == 2 and progress.asked_after_cancel == 1


def test_fitting_in_pieces_keeps_the_accuracy_of_one_uninterrupted_fit(monkeypatch):
    """Warm-started pieces reach the same optimum within the solver's tolerance: on held-out documents the
    accuracy is equal within noise and the predictions nearly all agree, even with pieces of 3 iterations."""
    from classifiers.engine import baselines
    from classifiers.engine.metrics import evaluate
    from classifiers.engine.registry import make_strategy

    texts, paths, hierarchy = noisy_corpus(1)
    test_texts, test_paths, _ = noisy_corpus(2, per_leaf=30)
    results = {}
    for chunk in (10**6, baselines.LR_CHUNK_ITERATIONS, 3):
        monkeypatch.setattr(baselines, "LR_CHUNK_ITERATIONS", chunk)
        for mode in ("flat", "local"):
            model = make_strategy("tfidf", mode=mode).fit(texts, paths, hierarchy)
            predicted = model.predict(test_texts)
            accuracy = evaluate([[p] for p in test_paths], predicted, hierarchy)["exact_path_accuracy"]
            results[chunk, mode] = (accuracy, predicted)
    for mode in ("flat", "local"):
        whole_accuracy, whole = results[10**6, mode]
        assert whole_accuracy > 0.4  # the task is learnable, so agreement below means something
        for chunk in (baselines.LR_CHUNK_ITERATIONS, 3):
            accuracy, predicted = results[chunk, mode]
            agree = sum(a == b for a, b in zip(predicted, whole, strict=True)) / len(whole)
            assert abs(accuracy - whole_accuracy) <= 0.02 and agree >= 0.95, (mode, chunk, accuracy, agree)


@pytest.mark.parametrize("strategy", ["hierverb", "hiericrf"])
def test_the_dev_evaluation_stops_between_its_batches(strategy, tiny_encoder, data, monkeypatch):
    """A cancel asked at the end of an epoch is seen by the dev evaluation after its first batch, not after the
    whole dev split (counted in dev batches run after the cancel)."""
    from classifiers.engine import plm

    texts, paths, hierarchy = data
    dev = (texts[::2], paths[::2])
    batches_after_cancel = []
    progress = CancelAfter()
    real_batches = plm.length_sorted_batches

    class Counted(list):
        def __iter__(self):
            for rows in list.__iter__(self):
                if progress.cancelled:
                    batches_after_cancel.append(len(rows))
                yield rows

    def counting_batches(lengths, batch_size):
        return Counted(real_batches(lengths, batch_size))

    monkeypatch.setattr(plm, "length_sorted_batches", counting_batches)
    if strategy == "hierverb":
        from classifiers.engine import verbalizer

        monkeypatch.setattr(verbalizer, "length_sorted_batches", counting_batches)
    model = _make(strategy, tiny_encoder)
    model.set_params(eval_batch_size=1)
    steps_per_epoch = -(-len(texts) // 4)

    def report(done: int, total: int) -> None:
        CancelAfter.__call__(progress, done, total)
        if done == steps_per_epoch:  # the last step of the first epoch: its dev evaluation comes next
            progress.flip()

    report.cancel_requested = progress.cancel_requested
    with pytest.raises(Cancelled):
        model.fit(texts, paths, hierarchy, dev=dev, progress=report)
    assert len(dev[0]) > 2 and len(batches_after_cancel) == 1, batches_after_cancel
