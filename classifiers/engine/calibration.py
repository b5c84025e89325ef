"""Confidence calibration: temperature scaling per level, expected calibration error, threshold sweeps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifiers.engine.base import SCORE_EPS


def _scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), SCORE_EPS, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, targets: Sequence[int], *, grid: Sequence[float] | None = None) -> float:
    """The temperature minimising the NLL of `targets` (column indices) under softmax(log p / T); returns T.

    A log-spaced grid search followed by a local refinement: one scalar, so no optimiser is needed."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(targets, dtype=int)
    if probs.size == 0 or len(y) == 0:
        return 1.0

    def nll(t: float) -> float:
        p = _scaled(probs, t)[np.arange(len(y)), y]
        return float(-np.log(np.clip(p, SCORE_EPS, None)).mean())

    grid = np.asarray(grid if grid is not None else np.exp(np.linspace(np.log(0.05), np.log(20.0), 61)))
    best = float(grid[int(np.argmin([nll(t) for t in grid]))])
    fine = best * np.exp(np.linspace(-0.12, 0.12, 25))
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


def apply_temperatures(scores: list[np.ndarray], temperatures: Sequence[float]) -> list[np.ndarray]:
    """Per-level scores rescaled by their level's temperature (rows still sum to 1)."""
    return [_scaled(s, t) if s.size else s for s, t in zip(scores, temperatures, strict=False)]


def fit_level_temperatures(scores: list[np.ndarray], hierarchy, gold_paths: Sequence) -> list[float]:
    """One temperature per level, fitted on documents whose gold path reaches that level; returns the list."""
    temps = []
    for d, s in enumerate(scores):
        rows, cols = [], []
        for i, path in enumerate(gold_paths):
            path = path[0] if path and isinstance(path[0], (tuple, list)) else path
            if d < len(path):
                rows.append(i)
                cols.append(hierarchy.level_pos[path[d]])
        temps.append(fit_temperature(s[rows], cols) if rows else 1.0)
    return temps


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean |accuracy - mean confidence| over equal-width confidence bins."""
    conf = np.asarray(confidences, dtype=np.float64)
    ok = np.asarray(correct, dtype=np.float64)
    if conf.size == 0:
        return 0.0
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(ok[mask].mean() - conf[mask].mean())
    return float(ece)


def threshold_sweep(
    confidences: Sequence[float],
    correct_cheap: Sequence[bool],
    correct_next: Sequence[bool],
    cost_cheap: float,
    cost_next: float,
    thresholds: Sequence[float],
) -> list[dict[str, float]]:
    """Accuracy and cost per document of a two-stage cascade at each threshold.

    Every document pays `cost_cheap`; those with confidence below the threshold also pay `cost_next` and
    take the next stage's answer. Returns one dict per threshold: threshold, accuracy, cost, escalated."""
    conf = np.asarray(confidences, dtype=np.float64)
    cheap = np.asarray(correct_cheap, dtype=bool)
    nxt = np.asarray(correct_next, dtype=bool)
    out = []
    for t in thresholds:
        esc = conf < t
        acc = float(np.where(esc, nxt, cheap).mean()) if conf.size else 0.0
        out.append(
            {
                "threshold": float(t),
                "accuracy": acc,
                "cost": float(cost_cheap + cost_next * esc.mean()) if conf.size else 0.0,
                "escalated": float(esc.mean()) if conf.size else 0.0,
            }
        )
    return out
