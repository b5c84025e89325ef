"""Strategy `auto`: train the candidate strategies that fit the labelled data and the time budget, score them
on the dev split, keep the best.

Candidates, cheapest first (`candidates` overrides): zeroshot (needs no labels), tfidf, embed and hierverb
(only when its estimated fine-tuning time fits what is left of `budget_minutes`; its training is then held to
what is left, `time_limit`, so a slower machine than estimated shortens it), then an ensemble of the best
two (their fitted models combined, weights fitted on dev; its dev score is cross-fitted on two halves of dev so
the weights never see the documents they are scored on). Without a dev split, a seeded stratified
`holdout_share` of the training documents plays dev and the winner is refitted on all of them (when the budget
allows). A candidate that fails is a leaderboard row with its error, never a failed run: on text the encoder
cannot read, its weakness shows as a low dev score.

A dev split of a few dozen documents cannot rank candidates a few points apart: those within one standard error of
the best dev accuracy count as tied and `TIE_ORDER` picks among them. And where the held-out share is too small to
measure what fine-tuning adds to the frozen encoder, and that encoder is not more than one standard error behind
TF-IDF on it, the verbalizer is trained once on all training documents and kept without a held-out score (scoring
it would cost it a fifth of its few documents, and a refit a second fine-tuning run).

`leaderboard_` (one row per candidate: train and dev-predict seconds, dev metrics, status) and `explanation_`
(one sentence) are what the run page shows (`report()`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import HierarchicalClassifier, ProgressFn, decode_scores
from classifiers.engine.ensemble import EnsembleClassifier, estimator_path_log_proba, gold_columns, member_name
from classifiers.engine.hierarchy import Hierarchy, as_multi

DEFAULT_CANDIDATES: tuple[dict, ...] = (
    {"strategy": "zeroshot", "params": {}},
    {"strategy": "tfidf", "params": {}},
    {"strategy": "embed", "params": {}},
    {"strategy": "hierverb", "params": {}},
)
#: Fine-tuning costs about this many times a frozen forward pass per document and epoch (backward + update).
FINE_TUNE_FACTOR = 3.0
#: Seconds per document of a frozen encoder forward pass assumed before embed has been timed.
DEFAULT_FORWARD_SECONDS = 0.05
ENSEMBLE = "ensemble"
#: With nothing to score on (K = 1 or 2 per path and no dev split), the order measured at K = 1 on 20 Newsgroups
#: (benchmarks/results/accuracy.md, issue 15): the pooled verbalizer, which starts as the zero-shot classifier and
#: fine-tunes the encoder, 0.581 exact path (3 seeds, full test split); embed with its label-name prior 0.543;
#: tfidf 0.12; the verbalizer trains only when its estimated fine-tuning time fits the budget, else embed is next.
PRIOR = ("hierverb", "embed", "tfidf", "zeroshot")
#: Among candidates tied on dev (within one standard error of the best): an ensemble first (on the test splits of
#: benchmarks/results/accuracy.md the TF-IDF x embed ensemble is within 0.002 of its better member or above it:
#: 20 Newsgroups 0.000 / -0.002 / +0.034 at K = 1 / 4 / 16 and +0.021 on the full set, DBpedia-298 +0.014,
#: Amazon-531 +0.018), then the prior order.
TIE_ORDER = (ENSEMBLE, *PRIOR)
#: The frozen encoder the verbalizer fine-tunes, as scored by these candidates.
ENCODER = ("embed", "zeroshot")
#: What fine-tuning added to the frozen encoder on 20 Newsgroups at K = 1 / 4 / 16 (hierverb against embed, 3 seeds,
#: full test split: 0.038 / 0.037 / 0.035). A held-out share whose standard error exceeds it cannot measure it.
FINE_TUNE_GAIN = 0.035


def _with_label_texts(strategy: str, params: dict, label_texts: dict | None) -> dict:
    from classifiers.engine.registry import strategy_class

    out = dict(params or {})
    if label_texts and "label_texts" not in out and "label_texts" in strategy_class(strategy)._get_param_names():
        out["label_texts"] = label_texts
    return out


def _dev_rank(row: dict) -> tuple[float, float]:
    """Exact-path accuracy first; a tie (frequent on a small dev split) goes to the better micro F1, which gives
    credit for the right ancestors of a wrong leaf; then the candidate order (cheapest first)."""
    return (-row["dev"]["exact_path_accuracy"], -row["dev"].get("micro_f1", 0.0))


def _prior_rank(strategy: str) -> int:
    return PRIOR.index(strategy) if strategy in PRIOR else len(PRIOR)


def _tie_rank(strategy: str) -> int:
    return TIE_ORDER.index(strategy) if strategy in TIE_ORDER else len(TIE_ORDER)


def standard_error(accuracy: float, n: int) -> float:
    """One standard error of an accuracy measured on `n` documents (binomial, on the accuracy smoothed by one
    right and one wrong document, so that 12 out of 12 is not taken for certain)."""
    if not n:
        return 1.0
    p = (accuracy * n + 1.0) / (n + 2.0)
    return math.sqrt(p * (1.0 - p) / n)


def within_one_se(best: float, score: float, n: int) -> bool:
    """Whether `score` is at most one standard error of `best` (both accuracies on the same `n` documents) below it:
    the band in which auto counts dev scores as tied."""
    return best - score <= standard_error(best, n) + 1e-12


def select(rows: Sequence[dict], scored: Sequence[int], n_dev: int) -> int:
    """The kept row among `scored`: those within one standard error of the best exact-path accuracy on `n_dev`
    documents are tied; `TIE_ORDER` decides among them, then the dev rank, then the candidate order."""
    top = min(scored, key=lambda k: (*_dev_rank(rows[k]), k))
    best = rows[top]["dev"]["exact_path_accuracy"]
    tied = [k for k in scored if within_one_se(best, rows[k]["dev"]["exact_path_accuracy"], n_dev)]
    return min(tied, key=lambda k: (_tie_rank(rows[k]["strategy"]), *_dev_rank(rows[k]), k))


def encoder_reads(rows: Sequence[dict], n_dev: int) -> tuple[dict, dict | None] | None:
    """(the best frozen-encoder row, the best other single row) when the encoder scores level with or ahead of
    every other single candidate scored so far, or less than one standard error behind (on `n_dev` documents);
    None when it is further behind or was not scored."""
    singles = [r for r in rows if "dev" in r and r["strategy"] not in (ENSEMBLE, "hierverb")]
    enc = [r for r in singles if r["strategy"] in ENCODER]
    if not enc:
        return None
    enc_best = min(enc, key=_dev_rank)
    others = [r for r in singles if r["strategy"] not in ENCODER]
    other_best = min(others, key=_dev_rank) if others else None
    if other_best and not within_one_se(
        other_best["dev"]["exact_path_accuracy"], enc_best["dev"]["exact_path_accuracy"], n_dev
    ):
        return None
    return enc_best, other_best


def _probe_forward_seconds(texts: Sequence[str], max_length: int = 256, n: int = 4) -> float:
    """Seconds per document of one uncached encoder forward pass at `max_length` tokens (the length the candidate
    trains at: the cost grows with it), timed on a few training texts (0 when the encoder cannot be loaded: then
    the other estimates decide)."""
    if not texts:
        return 0.0
    try:
        from classifiers.engine.embeddings import SentenceEmbedder

        embedder = SentenceEmbedder(None, int(max_length), n)
        sample = list(texts[:n])
        embedder.encode(sample[:1])  # loading the model is not per-document time
        t0 = time.perf_counter()
        embedder.encode(sample)
        return (time.perf_counter() - t0) / len(sample)
    except Exception:
        return 0.0


class AutoClassifier(HierarchicalClassifier):
    """Trains the candidates that fit, keeps the best on dev; predicts with the kept one."""

    strategy_name = "auto"
    # Capabilities: the base defaults; its candidates decide torch and LLM use (the app asks them as members).

    def __init__(
        self,
        candidates: Sequence[dict] | None = None,
        budget_minutes: float = 20.0,
        ensemble: bool = True,
        holdout_share: float = 0.2,
        seed: int = 0,
        refit: bool = True,
        label_texts: dict | None = None,
    ):
        self.candidates = candidates
        self.budget_minutes = budget_minutes
        self.ensemble = ensemble
        self.holdout_share = holdout_share
        self.seed = seed
        self.refit = refit
        self.label_texts = label_texts

    @property
    def decode(self) -> str:  # the kept strategy's decoding (the CRF corrector and cascades read it)
        chosen = self.__dict__.get("chosen_")
        return getattr(chosen, "decode", "best_path") if chosen is not None else "best_path"

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        from classifiers.engine.registry import make_strategy, strategy_class
        from classifiers.engine.selection import dev_metrics, dev_or_holdout

        started = time.perf_counter()
        budget = max(0.0, float(self.budget_minutes or 0.0)) * 60.0
        self.hierarchy_ = hierarchy
        texts, paths = list(texts), as_multi(paths)
        labelled = [i for i, p in enumerate(paths) if p]
        texts, paths = [texts[i] for i in labelled], [paths[i] for i in labelled]
        tr_texts, tr_paths, ev_texts, ev_paths, source = dev_or_holdout(
            texts, paths, dev, share=float(self.holdout_share), seed=int(self.seed)
        )
        self.dev_source_ = source
        candidates = [dict(c) for c in (self.candidates or DEFAULT_CANDIDATES)]
        steps = len(candidates) + 2
        fitted: dict[int, tuple[HierarchicalClassifier, np.ndarray | None]] = {}
        forward_seconds = None  # per document, measured on embed
        rows = [{"name": member_name(c), "strategy": c["strategy"], "status": "trained"} for c in candidates]
        order = list(range(len(candidates)))
        if not ev_texts:  # nothing to score on: train only the first in the prior order that trains
            order.sort(key=lambda k: _prior_rank(candidates[k]["strategy"]))
        for k in order:
            cand, row = candidates[k], rows[k]
            strategy = cand["strategy"]
            params = _with_label_texts(strategy, cand.get("params") or {}, self.label_texts)
            if not ev_texts and fitted:
                row["status"] = "skipped: nothing to score candidates on, the prior order chose"
                continue
            elapsed = time.perf_counter() - started
            try:
                cls = strategy_class(strategy)
            except ValueError as exc:
                row["status"] = f"failed: {exc}"[:300]
                continue
            if not cls.training_free and not tr_texts:
                row["status"] = "skipped: no labelled training documents"
                continue
            fit_texts, fit_paths, whole = tr_texts, tr_paths, ""
            if strategy == "hierverb":
                probe = cls(**params)  # epochs="auto" scales with the documents per path (verbalizer.auto_epochs)
                whole = self._train_on_all(rows, source, len(ev_texts))
                if whole:
                    fit_texts, fit_paths = texts, paths
                epochs = float(probe.epochs_for(fit_paths) if hasattr(probe, "epochs_for") else params.get("epochs", 5))
                # a warm embedding cache makes embed's timing far too low for an estimate: time the encoder itself
                length = int(getattr(probe, "max_length", 256) or 256)
                per_doc = max(forward_seconds or 0.0, _probe_forward_seconds(tr_texts, length), DEFAULT_FORWARD_SECONDS)
                scoring = per_doc * len(ev_texts) * (not whole)  # predicting the held-out share after training
                estimate = per_doc * FINE_TUNE_FACTOR * epochs * len(fit_texts) + scoring
                row["estimated_seconds"] = round(estimate, 1)
                if elapsed + estimate > budget:
                    row["status"] = f"skipped: about {estimate / 60:.0f} min to fine-tune, over the budget"
                    continue
                if whole:
                    row["refit"] = f"trained on all {len(texts)} training documents, not scored: {whole}"
                    row["whole"] = True
                # the estimate is a plan: the training itself ends in time, scoring the held-out share included
                if "time_limit" in cls._get_param_names():
                    params = {"time_limit": round(max(budget - elapsed - scoring, 0.0), 1), **params}
            elif elapsed > budget and fitted:  # the cheapest candidate always trains
                row["status"] = "skipped: the time budget was spent"
                continue
            try:
                t0 = time.perf_counter()
                est = make_strategy(strategy, **params)
                est.fit(fit_texts, fit_paths, hierarchy, dev=(ev_texts, ev_paths) if ev_texts and not whole else None)
                row["train_seconds"] = round(time.perf_counter() - t0, 2)
                if getattr(est, "time_limited_", None):
                    planned, done = est.time_limited_
                    row["time_limited"] = f"trained {done} of {planned} planned steps to end within the budget"
                logs = None
                if ev_texts and not whole:
                    t0 = time.perf_counter()
                    pred = est.predict(ev_texts)
                    logs = estimator_path_log_proba(est, ev_texts)
                    seconds = time.perf_counter() - t0
                    row["dev_seconds"] = round(seconds, 2)
                    row["dev"] = dev_metrics(pred, ev_paths, hierarchy)
                    if strategy == "embed":
                        forward_seconds = seconds / max(1, 2 * len(ev_texts))
                fitted[k] = (est, logs)
            except Exception as exc:  # a candidate that cannot run is a row, not a failed run
                row["status"] = f"failed: {type(exc).__name__}: {exc}"[:300]
            if progress:
                progress(order.index(k) + 1, steps)
        scored = [k for k in fitted if "dev" in rows[k]]
        ranked = sorted(scored, key=lambda k: (*_dev_rank(rows[k]), k))
        ens_index = None
        if self.ensemble and len(ranked) >= 2:
            ens_index = self._ensemble_row(rows, fitted, ranked[:2], ev_texts, ev_paths, source)
        if not fitted:
            raise ValueError("no candidate strategy could be trained: " + "; ".join(r["status"] for r in rows))
        unscored = [k for k in fitted if rows[k].get("whole")]
        if unscored:  # trained on everything by the prior (see `_train_on_all`): kept unscored
            best = unscored[0]
        elif ranked:
            best = select(rows, ranked + ([ens_index] if ens_index is not None else []), len(ev_texts))
        else:  # nothing to score on (too few documents to hold any out): the prior order, measured on 20NG
            best = min(fitted, key=lambda k: (_prior_rank(rows[k]["strategy"]), k))
        self.chosen_ = fitted[best][0]
        self.chosen_name_ = rows[best]["name"]
        rows[best]["status"] = "kept"
        if progress:
            progress(len(candidates) + 1, steps)
        if source == "held-out" and self.refit and not rows[best].get("whole"):
            self._refit(rows[best], candidates, texts, paths, hierarchy, budget - (time.perf_counter() - started))
        self.leaderboard_ = rows
        self.explanation_ = self._explain(rows, best, source, len(ev_texts))
        self.train_seconds_ = round(time.perf_counter() - started, 2)
        if progress:
            progress(steps, steps)
        return self

    def _train_on_all(self, rows, source: str, n_held_out: int) -> str:
        """Why the verbalizer trains on all training documents unscored ('' when it is scored like the others):
        the dev documents are a held-out share that a refit would need a second fine-tuning run to give back, too
        few to measure what fine-tuning adds (one standard error above `FINE_TUNE_GAIN`), and the frozen encoder
        it fine-tunes reads this corpus (`encoder_reads`: not more than one standard error behind any other single
        candidate on them)."""
        if source != "held-out" or not self.refit:
            return ""
        reads = encoder_reads(rows, n_held_out)
        if reads is None:
            return ""
        enc, other = reads
        top = max(r["dev"]["exact_path_accuracy"] for r in rows if "dev" in r)
        se = standard_error(top, n_held_out)
        if se <= FINE_TUNE_GAIN:
            return ""
        versus = ""
        if other:
            mine, theirs = enc["dev"]["exact_path_accuracy"], other["dev"]["exact_path_accuracy"]
            how = "ahead of" if mine > theirs else "level with" if mine == theirs else "within one standard error of"
            versus = f", {how} {other['name']} ({theirs:.3f})"
        return (
            f"{n_held_out} held-out documents (one standard error {se:.3f}) cannot measure what fine-tuning adds"
            f" to the frozen encoder, which reads this corpus ({enc['name']} {enc['dev']['exact_path_accuracy']:.3f}"
            f"{versus})"
        )

    def _ensemble_row(self, rows, fitted, pair, ev_texts, ev_paths, source) -> int:
        """Combine the two best fitted candidates; its dev score is cross-fitted on two halves of dev."""
        from classifiers.engine.selection import dev_metrics

        members = [fitted[k][0] for k in pair]
        logs = [fitted[k][1] for k in pair]
        names = [rows[k]["name"] for k in pair]
        ens = EnsembleClassifier(members=[{"strategy": rows[k]["strategy"]} for k in pair])
        ens.set_members(members, names)
        n = len(ev_texts)
        order = np.random.RandomState(int(self.seed) + 1).permutation(n)
        halves = [np.sort(order[: n // 2]), np.sort(order[n // 2 :])]
        pred: list = [None] * n
        leaf_paths = self.hierarchy_.leaf_paths()
        for fit_half, score_half in ((halves[0], halves[1]), (halves[1], halves[0])):
            ens.fit_weights(
                [ev_texts[i] for i in fit_half],
                [ev_paths[i] for i in fit_half],
                member_logs=[L[fit_half] for L in logs],
            )
            proba = ens.combined_path_proba([L[score_half] for L in logs])
            for j, i in enumerate(score_half):
                pred[i] = [leaf_paths[int(proba[j].argmax())]]
        ens.fit_weights(ev_texts, ev_paths, source=source, member_logs=logs)
        row = {
            "name": f"ensemble({' + '.join(names)})",
            "strategy": ENSEMBLE,
            "status": "trained",
            "train_seconds": round(sum(rows[k].get("train_seconds", 0.0) for k in pair), 2),
            "dev_seconds": round(sum(rows[k].get("dev_seconds", 0.0) for k in pair), 2),
            "dev": dev_metrics(pred, ev_paths, self.hierarchy_),
            "weights": [round(float(w), 4) for w in ens.weights_],
            "members": list(pair),
        }
        rows.append(row)
        gold_ok = sum(1 for c in gold_columns(ev_paths, leaf_paths) if c)
        row["weight_documents"] = gold_ok
        fitted[len(rows) - 1] = (ens, None)
        return len(rows) - 1

    def _refit(self, row, candidates, texts, paths, hierarchy, left: float) -> None:
        """Refit the kept strategy (an ensemble: its members, weights kept) on every training document."""
        from classifiers.engine.registry import make_strategy

        estimate = float(row.get("train_seconds", 0.0)) / max(0.05, 1.0 - float(self.holdout_share))
        if estimate > left:
            row["refit"] = "skipped: over the budget (kept the model trained without the held-out share)"
            return
        t0 = time.perf_counter()
        try:
            if row["strategy"] == ENSEMBLE:
                specs = [candidates[k] for k in row["members"]]
                for j, spec in enumerate(specs):
                    params = _with_label_texts(spec["strategy"], spec.get("params") or {}, self.label_texts)
                    self.chosen_.estimators_[j] = make_strategy(spec["strategy"], **params).fit(texts, paths, hierarchy)
            else:
                spec = next(c for c in candidates if member_name(c) == row["name"])
                params = _with_label_texts(spec["strategy"], spec.get("params") or {}, self.label_texts)
                self.chosen_ = make_strategy(spec["strategy"], **params).fit(texts, paths, hierarchy)
            row["refit"] = f"refitted on all {len(texts)} training documents in {time.perf_counter() - t0:.1f} s"
        except Exception as exc:
            row["refit"] = f"failed ({type(exc).__name__}); kept the model trained without the held-out share"

    @staticmethod
    def _explain(rows, best: int, source: str, n_dev: int) -> str:
        row = rows[best]
        where = {"dev": "the dev split", "held-out": "a held-out share of the training documents"}.get(source)
        skipped = [r["strategy"] for r in rows if str(r["status"]).startswith(("skipped", "failed"))]
        tail = f" ({', '.join(skipped)} not trained: see the leaderboard)." if skipped else "."
        if row.get("whole"):
            return f"Kept {row['name']}, {row['refit'].replace(': ', ', as ', 1)}" + tail
        if "dev" not in row or where is None:
            return (
                f"Kept {row['name']}: too few documents to score the candidates on (no dev split, fewer than 3 per "
                f"path to hold out), so the prior order {', '.join(PRIOR)} decided."
            )
        score = row["dev"]["exact_path_accuracy"]
        others = [r for k, r in enumerate(rows) if k != best and "dev" in r]
        runner = min(others, key=_dev_rank) if others else None
        if runner is not None and runner["dev"]["exact_path_accuracy"] > score:
            return (
                f"Kept {row['name']}: within one standard error"
                f" ({standard_error(runner['dev']['exact_path_accuracy'], n_dev):.3f}) of the best exact-path accuracy"
                f" on {where} ({n_dev} documents), {score:.3f} against {runner['dev']['exact_path_accuracy']:.3f} for"
                f" {runner['name']}, and first among those in the order {', '.join(TIE_ORDER)}" + tail
            )
        text = f"Kept {row['name']}: best exact-path accuracy on {where} ({n_dev} documents), {score:.3f}"
        if runner is not None and runner["dev"]["exact_path_accuracy"] == score:
            mine, theirs = row["dev"].get("micro_f1", 0.0), runner["dev"].get("micro_f1", 0.0)
            if _tie_rank(row["strategy"]) < _tie_rank(runner["strategy"]):
                text += f", tied with {runner['name']} and first in the order {', '.join(TIE_ORDER)}"
            else:
                text += f", tied with {runner['name']} and ahead on micro F1 ({mine:.3f} against {theirs:.3f})"
        elif runner is not None:
            text += f" against {runner['dev']['exact_path_accuracy']:.3f} for {runner['name']}"
        return text + tail

    # ----- contract: the kept strategy answers -----
    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        """The kept strategy's scores (a repeat call on the same texts, as after `predict`, reuses them)."""
        from classifiers.engine.selection import texts_digest

        texts = list(texts)
        memo = self.__dict__.get("_memo")
        if memo is not None and memo[0] == texts_digest(texts):
            return memo[1]
        scores = self.chosen_.predict_scores(texts, progress=progress)
        self.__dict__["_memo"] = (texts_digest(texts), scores)
        return scores

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        if type(self.chosen_).predict is HierarchicalClassifier.predict:
            return [
                [p] for p in decode_scores(self.predict_scores(texts, progress=progress), self.hierarchy_, self.decode)
            ]
        return self.chosen_.predict(texts, progress=progress)

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_memo", None)
        return state

    def predict_path_proba(self, texts: Sequence[str], *, progress: ProgressFn = None) -> np.ndarray:
        return np.exp(estimator_path_log_proba(self.chosen_, texts, progress))

    def report(self) -> dict[str, Any]:
        return {
            "kept": self.chosen_name_,
            "explanation": self.explanation_,
            "dev_source": self.dev_source_,
            "leaderboard": self.leaderboard_,
        }

    def __getattr__(self, name: str):
        # Per-document figures some strategies set at predict time (valid_, raw_outputs_, stats_) read through.
        if name.endswith("_") and not name.startswith("_") and "chosen_" in self.__dict__:
            return getattr(self.__dict__["chosen_"], name)
        raise AttributeError(name)

    # ----- persistence: the kept model in a sub-folder -----
    def write_files(self, directory: FsPath) -> None:
        super().write_files(directory)
        self.chosen_.save(FsPath(directory) / "chosen")

    def state_json(self) -> dict[str, Any]:
        return {
            "chosen_name": self.chosen_name_,
            "leaderboard": self.leaderboard_,
            "explanation": self.explanation_,
            "dev_source": self.dev_source_,
            "train_seconds": self.train_seconds_,
        }

    def load_state(self, state: dict[str, Any], tensors, directory: FsPath) -> None:
        from classifiers.engine.registry import load_estimator

        self.chosen_name_ = state["chosen_name"]
        self.leaderboard_ = state.get("leaderboard") or []
        self.explanation_ = state.get("explanation") or ""
        self.dev_source_ = state.get("dev_source") or ""
        self.train_seconds_ = state.get("train_seconds")
        self.chosen_ = load_estimator(FsPath(directory) / "chosen")
