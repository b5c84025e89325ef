"""The device a run trained on is recorded for the run page: the estimator's own, or a weak run's base's."""

from types import SimpleNamespace

import pytest

from classifiers.services import estimator_device

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def test_the_device_comes_from_the_fitted_estimator_or_its_base():
    assert estimator_device(SimpleNamespace(device_="cuda")) == "cuda"
    assert estimator_device(SimpleNamespace(estimator_=SimpleNamespace(device_="cpu"))) == "cpu"
    assert estimator_device(SimpleNamespace(device_="mps", estimator_=SimpleNamespace(device_="cpu"))) == "mps"
    assert estimator_device(SimpleNamespace()) is None  # tfidf, LLM strategies: no torch device
