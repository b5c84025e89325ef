"""Cancel reaches the engine between steps (issue 21, item 2): every torch strategy reports after each training
step and each encoding batch, so a progress callback that raises `Cancelled` stops it there, not after the work."""

from __future__ import annotations

import pytest
import torch

from classifiers.engine.base import Cancelled
from tests.engine.test_verbalizer import TREE, corpus, write_tiny_checkpoint


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
