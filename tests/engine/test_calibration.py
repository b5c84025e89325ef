import numpy as np

from classifiers.engine.calibration import (
    apply_temperatures,
    expected_calibration_error,
    fit_temperature,
    threshold_sweep,
)


def _overconfident(n=600, k=4, seed=0):
    """True class probabilities ~0.6 but reported as ~0.97 (sharpened logits)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(0, 1.0, (n, k))
    logits[np.arange(n), y] += 1.5
    sharp = np.exp(logits * 4)
    return sharp / sharp.sum(axis=1, keepdims=True), y


def test_temperature_scaling_reduces_ece_on_overconfident_scores():
    probs, y = _overconfident()
    before = expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == y)
    t = fit_temperature(probs[:300], y[:300])
    assert t > 1.5  # over-confident scores need flattening
    (scaled,) = apply_temperatures([probs[300:]], [t])
    after = expected_calibration_error(scaled.max(axis=1), scaled.argmax(axis=1) == y[300:])
    assert after < before / 2
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0)


def test_ece_is_zero_when_confidence_matches_accuracy_and_large_when_not():
    assert expected_calibration_error([0.5] * 4, [True, False, True, False]) == 0.0
    assert abs(expected_calibration_error([0.95] * 4, [False] * 4) - 0.95) < 1e-9


def test_threshold_sweep_trades_accuracy_for_cost():
    conf = [0.9, 0.8, 0.3, 0.2]
    rows = threshold_sweep(conf, [True, True, False, False], [True, True, True, True], 1.0, 10.0, [0.0, 0.5, 1.0])
    assert [r["accuracy"] for r in rows] == [0.5, 1.0, 1.0]
    assert [r["cost"] for r in rows] == [1.0, 6.0, 11.0]
    assert [r["escalated"] for r in rows] == [0.0, 0.5, 1.0]
