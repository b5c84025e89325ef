"""Cold start from the taxonomy alone (TELEClass-style): term mining, pseudo-labels, a weak pipeline.

1. `mine_terms`: for every node, terms that separate the documents it likely holds (by the zero-shot
   per-level scores, as soft weights) from the documents of its siblings.
   `enrich_zero_shot` repeats it: label texts enriched with the terms, documents scored again, mined again.
2. `select_pseudo_labels`: documents whose zero-shot path confidence is at least `threshold`;
   `select_pseudo_labels_per_class` also keeps the most confident share of every predicted path.
3. `WeakSupervisionClassifier`: zero-shot or LLM scores (label texts enriched with mined terms) ->
   pseudo-labels (+ documents given with a path, e.g. LLM-written examples) -> a supervised base strategy
   ("embed", "tfidf" or "hierverb") trained on them; with a cheap scorer (zero-shot) its scores are blended
   with the enriched scorer's at prediction time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path as FsPath
from typing import Any

import numpy as np

from classifiers.engine.base import (
    HierarchicalClassifier,
    ProgressFn,
    decode_scores,
    path_confidence,
    progress_note,
)
from classifiers.engine.baselines import sibling_groups
from classifiers.engine.hierarchy import Hierarchy, Path


def node_weights(scores: list[np.ndarray], hierarchy: Hierarchy) -> np.ndarray:
    """(n_docs, n_nodes) soft membership of each document in each node, from per-level scores."""
    n = scores[0].shape[0] if scores else 0
    w = np.zeros((n, len(hierarchy)))
    for d, level in enumerate(hierarchy.levels):
        if d < len(scores):
            w[:, level] = scores[d]
    return w


def mine_terms(
    texts: Sequence[str], scores: list[np.ndarray], hierarchy: Hierarchy, *, top_k: int = 10, min_df: int = 2
) -> dict[int, list[str]]:
    """Class-indicative terms per node: returns {node index: up to top_k terms, most distinctive first}.

    A term's score for a node is its weighted document frequency among the node's likely documents
    times the log-ratio against its siblings' (weights = per-level scores)."""
    from sklearn.feature_extraction.text import CountVectorizer

    try:
        vec = CountVectorizer(stop_words="english", min_df=min_df, binary=True, token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
        X = vec.fit_transform(texts).astype(np.float64)
    except ValueError:
        return {v: [] for v in range(len(hierarchy))}
    vocab = np.asarray(vec.get_feature_names_out())
    W = node_weights(scores, hierarchy)
    # weighted document frequency of each term per node: (n_nodes, n_terms)
    df = np.asarray((X.T @ W).T) / np.clip(W.sum(axis=0), 1e-9, None)[:, None]
    out: dict[int, list[str]] = {}
    for _, children in sibling_groups(hierarchy):
        for c in children:
            others = [s for s in children if s != c]
            rest = df[others].mean(axis=0) if others else np.zeros(df.shape[1])
            score = df[c] * np.log((df[c] + 1e-3) / (rest + 1e-3))
            order = np.argsort(-score)[:top_k]
            out[c] = [str(vocab[j]) for j in order if score[j] > 0]
    return out


def enrich_zero_shot(
    texts: Sequence[str],
    hierarchy: Hierarchy,
    *,
    label_texts: dict | None = None,
    rounds: int = 2,
    top_k: int = 10,
    min_df: int = 2,
    zeroshot_params: dict | None = None,
    progress: ProgressFn = None,
) -> tuple[dict[int, list[str]], list[np.ndarray]]:
    """Corpus-based taxonomy enrichment with refinement: zero-shot scores -> mined terms -> label texts
    enriched with them -> zero-shot again -> terms mined again, `rounds` times (TELEClass's enrichment and
    core-class refinement, with embeddings instead of AutoPhrase). Documents are embedded once.

    Returns (terms per node index from the last round, the last round's per-level scores)."""
    from classifiers.engine.zeroshot import ZeroShotClassifier

    params = {k: v for k, v in (zeroshot_params or {}).items() if k != "label_texts"}
    base = {int(k): str(v) for k, v in (label_texts or {}).items() if v}
    scorer = ZeroShotClassifier(**params, label_texts=base).fit([], [], hierarchy)
    # Encoding takes most of the time; the rounds of scoring and mining share the rest.
    progress_note(progress, f"Encoding {len(texts):,} documents", share=0.8)
    docs = scorer.embed_documents(texts, progress=progress)
    terms: dict[int, list[str]] = {}
    scores: list[np.ndarray] = []
    rounds = max(1, int(rounds))
    progress_note(progress, f"Scoring the labels and mining terms ({rounds} round{'s' if rounds != 1 else ''})", 1.0)
    for r in range(rounds):
        if r:
            scorer = ZeroShotClassifier(**params, label_texts=merge_label_texts(base, terms)).fit([], [], hierarchy)
        scores = scorer.scores_for_embeddings(docs)
        terms = mine_terms(texts, scores, hierarchy, top_k=top_k, min_df=min_df)
        if progress is not None:
            progress(r + 1, rounds)
    return terms, scores


def select_pseudo_labels(
    scores: list[np.ndarray], hierarchy: Hierarchy, *, threshold: float, decode: str = "top_down"
) -> tuple[list[int], list[Path], list[float]]:
    """Confident zero-shot assignments: returns (document indices, their paths, their confidences),
    keeping documents whose path confidence (product of per-level scores) is >= threshold."""
    paths = decode_scores(scores, hierarchy, decode)
    conf = [float(np.prod(c)) if c else 0.0 for c in path_confidence(scores, hierarchy, paths)]
    keep = [i for i, c in enumerate(conf) if c >= threshold]
    return keep, [paths[i] for i in keep], [conf[i] for i in keep]


def select_pseudo_labels_per_class(
    scores: list[np.ndarray], hierarchy: Hierarchy, *, threshold: float, min_fraction: float, decode: str = "top_down"
) -> tuple[list[int], list[Path], list[float]]:
    """Like `select_pseudo_labels`, but every predicted path also keeps its most confident
    ceil(min_fraction x its documents), so no class loses all its pseudo-labels to more confident ones.
    Returns (document indices sorted, their paths, their confidences)."""
    paths = decode_scores(scores, hierarchy, decode)
    conf = [float(np.prod(c)) if c else 0.0 for c in path_confidence(scores, hierarchy, paths)]
    keep = {i for i, c in enumerate(conf) if c >= threshold}
    members: dict[Path, list[int]] = {}
    for i, p in enumerate(paths):
        members.setdefault(p, []).append(i)
    for docs in members.values():
        docs.sort(key=lambda i: -conf[i])
        keep.update(docs[: math.ceil(max(min_fraction, 0.0) * len(docs))])
    order = sorted(keep)
    return order, [paths[i] for i in order], [conf[i] for i in order]


def scorer_params(scorer: str, params: dict, label_texts: dict[int, str] | None) -> dict:
    """`params` for the scorer strategy with `label_texts` handed over the way it takes them:
    as `label_texts` (zero-shot) or as prompt `label_descriptions` (the LLM strategies)."""
    from classifiers.engine.registry import strategy_class

    accepted = strategy_class(scorer)._get_param_names()
    out = dict(params)
    if not label_texts:
        return out
    if "label_texts" in accepted:
        out["label_texts"] = label_texts
    elif "label_descriptions" in accepted:
        out["label_descriptions"] = label_texts
        out["use_descriptions"] = True
    return out


def merge_label_texts(base: dict | None, terms: dict[int, list[str]]) -> dict[int, str]:
    """Label texts with mined terms appended ("<existing text>; t1, t2") to the nodes that have some."""
    out = {int(k): str(v) for k, v in (base or {}).items() if v}
    for node, words in terms.items():
        if words:
            joined = ", ".join(words)
            out[node] = f"{out[node]}; {joined}" if out.get(node) else joined
    return out


#: Base-strategy defaults for learning from pseudo-labels, under any `base_params` given. The embed
#: strategy's own default (one flat regression over the paths, C=1) suits clean few-shot labels; on noisy
#: pseudo-labels a regression per sibling group with weaker regularisation did better (exact path, 0 labels:
#: 20 Newsgroups 0.254 vs 0.213 flat, DBpedia-298 0.224 vs 0.146; benchmarks/results/accuracy.md).
BASE_DEFAULTS: dict[str, dict[str, Any]] = {"embed": {"mode": "local", "C": 10.0}}


class WeakSupervisionClassifier(HierarchicalClassifier):
    """Zero labels: `fit(texts, paths, hierarchy)` learns from the unlabeled texts, never from their gold paths.

    Steps: scorer scores -> (enrich) mined terms appended to the label texts and the documents scored again
    (only for scorers whose scores are cheap: not the LLM ones) -> pseudo-labels above `threshold` (when
    fewer than `min_fraction` of the documents pass, the most confident `min_fraction` instead) -> `base`
    strategy trained on them. `selection="per_class"` keeps the documents above `threshold` plus the most
    confident `min_fraction` of each predicted path (so no class loses all its pseudo-labels to more
    confident ones); `"global"` keeps those above `threshold`, or when fewer than `min_fraction` of all
    documents pass, the most confident `min_fraction` overall. Predicted scores are (1 - blend) x base +
    blend x the enriched scorer (blend=0: base only; LLM scorers are never blended, one call a document
    would be too costly).

    `scorer` names the scoring strategy: "zeroshot" (label texts go to `label_texts`) or an LLM strategy
    (label texts go to its prompt `label_descriptions`; its per-level scores are one-hot, so a valid full
    answer has confidence 1 and an invalid one falls below any threshold above 1/siblings).
    `zeroshot_params` are the scorer's parameters. With `use_given_paths`, documents that come with a
    path (LLM-written examples) are trained on as given and not scored. `max_scored` bounds how many
    documents are scored (a seeded sample; bounded LLM calls). Runtime settings (`set_runtime`: the LLM
    key, allowed hosts, cache) are handed to the scorer and never saved.

    Learned: `pseudo_labelled_` (document indices), `pseudo_paths_`, `pseudo_confidence_`, `given_`
    (indices trained on as given), `terms_` (mined terms per node), `scorer_stats_` (LLM usage or {})."""

    strategy_name = "weak"
    # uses_torch / calls_llm stay False: its scorer and base decide (the app asks them as the run's members).

    def __init__(
        self,
        base: str = "embed",
        base_params: dict | None = None,
        threshold: float = 0.5,
        enrich: bool = True,
        top_k_terms: int = 8,
        min_fraction: float = 0.2,
        zeroshot_params: dict | None = None,
        scorer: str = "zeroshot",
        use_given_paths: bool = False,
        max_scored: int | None = None,
        seed: int = 550,
        selection: str = "per_class",
        blend: float = 0.5,
    ):
        self.base = base
        self.base_params = base_params
        self.threshold = threshold
        self.enrich = enrich
        self.top_k_terms = top_k_terms
        self.min_fraction = min_fraction
        self.zeroshot_params = zeroshot_params
        self.scorer = scorer
        self.use_given_paths = use_given_paths
        self.max_scored = max_scored
        self.seed = seed
        self.selection = selection
        self.blend = blend

    def set_runtime(self, **runtime) -> WeakSupervisionClassifier:
        """Machine-local settings and secrets for the scorer (e.g. `api_key=`); kept in memory only."""
        self.__dict__.setdefault("_runtime", {}).update({k: v for k, v in runtime.items() if v is not None})
        return self

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_runtime", None)  # never pickle or deep-copy a key
        return state

    def _make_scorer(self, hierarchy: Hierarchy, label_texts: dict | None):
        from classifiers.engine.registry import make_strategy

        zp = dict(self.zeroshot_params or {})
        zp.pop("label_texts", None)
        scorer = make_strategy(self.scorer, **scorer_params(self.scorer, zp, label_texts))
        runtime = self.__dict__.get("_runtime")
        if runtime and hasattr(scorer, "set_runtime"):
            scorer.set_runtime(**runtime)
        return scorer.fit([], [], hierarchy)

    def _score(self, scorer, texts: list[str], progress: ProgressFn = None) -> list[np.ndarray]:
        scores = scorer.predict_scores(texts, progress=progress)
        stats = getattr(scorer, "stats_", None)
        if isinstance(stats, dict):
            for key, value in stats.items():
                if isinstance(value, (int, float)):
                    self.scorer_stats_[key] = self.scorer_stats_.get(key, 0) + value
        return scores

    def fit(
        self, texts: Sequence[str], paths: Sequence, hierarchy: Hierarchy, *, dev=None, progress: ProgressFn = None
    ):
        """Train on pseudo-labels (and, with `use_given_paths`, on the documents that carry a path).

        Gold `paths` of the other documents are ignored (cold start, 0 labels). Returns self."""
        from classifiers.engine.hierarchy import as_multi
        from classifiers.engine.registry import make_strategy

        texts = list(texts)
        self.hierarchy_ = hierarchy
        self.scorer_stats_: dict[str, float] = {}
        given_paths = as_multi(paths) if self.use_given_paths and len(paths) == len(texts) else [[]] * len(texts)
        self.given_ = [i for i, p in enumerate(given_paths) if p]
        candidates = [i for i, p in enumerate(given_paths) if not p]
        if self.max_scored is not None and len(candidates) > int(self.max_scored):
            rng = np.random.default_rng(int(self.seed) & 0xFFFFFFFF)
            candidates = sorted(int(i) for i in rng.choice(candidates, size=int(self.max_scored), replace=False))
        pool = [texts[i] for i in candidates]
        base_texts = dict((self.zeroshot_params or {}).get("label_texts") or {})
        # Two named steps on the caller's progress: scoring the pool (half of the time), then training the base
        # strategy on the pseudo-labels (the rest); the base's own notes ("Encoding ...") nest inside the second.
        scorer = self._make_scorer(hierarchy, base_texts)
        progress_note(progress, f"Pseudo-labelling: scoring {len(pool):,} documents with {self.scorer}", share=0.5)
        scores = self._score(scorer, pool, progress) if pool else []
        self.terms_: dict[int, list[str]] = {}
        if self.enrich and pool and scores:
            self.terms_ = mine_terms(pool, scores, hierarchy, top_k=self.top_k_terms)
            if not getattr(scorer, "rescoring_is_costly", False):
                scorer = self._make_scorer(hierarchy, merge_label_texts(base_texts, self.terms_))
                scores = self._score(scorer, pool)
        if self.selection not in ("per_class", "global"):
            raise ValueError(f"selection must be 'per_class' or 'global', not {self.selection!r}")
        # Blending re-scores every predicted document: only for scorers that are cheap to run again.
        self.scorer_ = None if getattr(scorer, "rescoring_is_costly", False) else scorer
        keep: list[int] = []
        pseudo: list = []
        conf: list[float] = []
        if pool and scores and self.selection == "per_class":
            keep, pseudo, conf = select_pseudo_labels_per_class(
                scores, hierarchy, threshold=self.threshold, min_fraction=self.min_fraction
            )
        elif pool and scores:
            keep, pseudo, conf = select_pseudo_labels(scores, hierarchy, threshold=self.threshold)
            floor = max(2, int(self.min_fraction * len(pool)))
            if len(keep) < floor:
                _, all_paths, all_conf = select_pseudo_labels(scores, hierarchy, threshold=0.0)
                keep = sorted(int(i) for i in np.argsort(-np.asarray(all_conf), kind="stable")[:floor])
                pseudo = [all_paths[i] for i in keep]
                conf = [all_conf[i] for i in keep]
        self.pseudo_labelled_ = [candidates[i] for i in keep]
        self.pseudo_paths_ = list(pseudo)
        self.pseudo_confidence_ = [float(c) for c in conf]
        train_idx = self.pseudo_labelled_ + self.given_
        train_paths = [[p] for p in self.pseudo_paths_] + [given_paths[i] for i in self.given_]
        if not train_idx:
            raise ValueError("no document could be pseudo-labelled")
        self.estimator_ = make_strategy(self.base, **{**BASE_DEFAULTS.get(self.base, {}), **(self.base_params or {})})
        progress_note(progress, f"Training {self.base} on {len(train_idx):,} pseudo-labelled documents", share=1.0)
        self.estimator_.fit([texts[i] for i in train_idx], train_paths, hierarchy, progress=progress)
        if progress is not None:
            progress(1, 1)
        return self

    def _blending(self) -> bool:
        return float(self.blend or 0.0) > 0 and getattr(self, "scorer_", None) is not None

    def predict_scores(self, texts: Sequence[str], *, progress: ProgressFn = None) -> list[np.ndarray]:
        base = self.estimator_.predict_scores(texts, progress=progress)
        if not self._blending():
            return base
        b = float(self.blend)
        zs = self.scorer_.predict_scores(list(texts))
        return [(1 - b) * s + b * z for s, z in zip(base, zs, strict=True)]

    def predict(self, texts: Sequence[str], *, progress: ProgressFn = None):
        if not self._blending():
            return self.estimator_.predict(texts, progress=progress)
        scores = self.predict_scores(texts, progress=progress)
        return [[p] for p in decode_scores(scores, self.hierarchy_, getattr(self.estimator_, "decode", "top_down"))]

    def write_files(self, directory: FsPath) -> None:
        super().write_files(directory)
        self.estimator_.save(FsPath(directory) / "base")
        if getattr(self, "scorer_", None) is not None:
            self.scorer_.save(FsPath(directory) / "scorer")

    def state_json(self) -> dict[str, Any]:
        return {
            "pseudo_labelled": [int(i) for i in self.pseudo_labelled_],
            "pseudo_paths": [[int(n) for n in p] for p in self.pseudo_paths_],
            "pseudo_confidence": [float(c) for c in self.pseudo_confidence_],
            "given": [int(i) for i in self.given_],
            "terms": {str(k): v for k, v in self.terms_.items()},
        }

    def load_state(self, state: dict[str, Any], tensors, directory: FsPath) -> None:
        from classifiers.engine.registry import load_estimator

        self.pseudo_labelled_ = list(state["pseudo_labelled"])
        self.pseudo_paths_ = [tuple(p) for p in state.get("pseudo_paths", [])]
        self.pseudo_confidence_ = list(state.get("pseudo_confidence", []))
        self.given_ = list(state.get("given", []))
        self.terms_ = {int(k): v for k, v in state["terms"].items()}
        self.estimator_ = load_estimator(FsPath(directory) / "base")
        scorer_dir = FsPath(directory) / "scorer"
        self.scorer_ = load_estimator(scorer_dir) if (scorer_dir / "config.json").exists() else None
