"""Weak runs (strategy "weak"): the Django side of training on pseudo-labels instead of gold labels.

`WeakHooks` (registered in `classifiers.strategies.HOOKS`): at run creation the params are checked
(`weak_params`) and every document outside the test split is training input (`weak_training_ids`); at
training the scorer and base get the label texts, an LLM scorer the project's endpoint (`weak_prepare`), and
only generated documents keep their path (`weak_given_paths`); when the model is saved the pseudo-labelled
documents are recorded as PseudoLabel rows (`pseudo_labels_store`).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from classifiers.adapters import gold_paths_for, label_texts_for
from classifiers.engine import registry
from classifiers.engine.hierarchy import Hierarchy
from classifiers.strategies import StrategyHooks, llm_cache_dir

WEAK_BASES = ("hierverb", "embed", "tfidf")


def weak_params(params: dict) -> dict:
    """A weak run's parameters, checked, with the pseudo-label threshold from the settings when not given.
    The scorer must be training-free: a strategy that learns from labels cannot score before any exists."""
    out = dict(params or {})
    out.setdefault("threshold", float(settings.HTC_PSEUDO_LABEL_THRESHOLD))
    errors: dict[str, str] = {}
    try:
        if not 0.0 <= float(out["threshold"]) <= 1.0:
            errors["threshold"] = "The pseudo-label threshold is a confidence between 0 and 1."
    except (TypeError, ValueError):
        errors["threshold"] = "The pseudo-label threshold must be a number."
    if out.get("base", "embed") not in WEAK_BASES:
        errors["base"] = f"The weak strategy trains one of {', '.join(WEAK_BASES)}."
    scorer = out.get("scorer", "zeroshot")
    if scorer not in registry.STRATEGIES or not registry.capabilities(scorer).training_free:
        errors["scorer"] = "The scorer needs no training: 'zeroshot' or an LLM strategy (llm-dl, llm-dh, llm-tmh)."
    if errors:
        raise ValidationError(errors)
    return out


def weak_training_ids(project) -> list[int]:
    """What a weak run learns from: every document outside the test split (labelled or not, generated too)."""
    from corpora.models import Document, Split

    return list(
        Document.objects.filter(project=project).exclude(split=Split.TEST).order_by("id").values_list("id", flat=True)
    )


def weak_prepare(*, run, estimator) -> None:
    """Point a weak run's LLM scorer at the project's endpoint: settings as scorer parameters, the key at
    run time only (never a parameter, never saved)."""
    scorer = estimator.get_params(deep=False).get("scorer", "zeroshot")
    if not registry.capabilities(scorer).calls_llm:
        return
    from endpoints.services import endpoint_client_kwargs

    kwargs = endpoint_client_kwargs(run.project)
    api_key = kwargs.pop("api_key")
    allowed_hosts = kwargs.pop("allowed_hosts")
    templates = kwargs.pop("templates")
    zp = dict(estimator.zeroshot_params or {})
    for key, value in kwargs.items():
        zp.setdefault(key, value)
    if templates:
        zp.setdefault("templates", templates)
    estimator.set_params(zeroshot_params=zp)
    estimator.set_runtime(
        api_key=api_key or None,
        allowed_hosts=allowed_hosts,
        cache_dir=llm_cache_dir(),
    )


def weak_given_paths(doc_ids: list[int], paths: list) -> list:
    """Only generated documents keep their path (they were written for it); real gold labels are hidden."""
    from corpora.models import Document

    generated: set[int] = set()
    for start in range(0, len(doc_ids), 5000):
        chunk = doc_ids[start : start + 5000]
        generated.update(Document.objects.filter(pk__in=chunk, generated=True).values_list("id", flat=True))
    return [p if pk in generated else [] for pk, p in zip(doc_ids, paths, strict=True)]


def pseudo_labels_store(*, run, doc_ids: list[int], estimator, hierarchy: Hierarchy) -> dict[str, Any]:
    """Write the weak run's PseudoLabel rows (document, path as node ids, confidence); call inside the
    run's final transaction. Returns the figures for Run.stats["pseudo_labels"]."""
    from classifiers.models import PseudoLabel

    PseudoLabel.objects.filter(run=run).delete()
    rows = [
        PseudoLabel(
            run=run,
            document_id=doc_ids[i],
            path=[int(hierarchy.ids[n]) for n in path],
            confidence=round(float(conf), 6),
        )
        for i, path, conf in zip(
            estimator.pseudo_labelled_, estimator.pseudo_paths_, estimator.pseudo_confidence_, strict=True
        )
    ]
    PseudoLabel.objects.bulk_create(rows, batch_size=2000)
    params = estimator.get_params(deep=False)
    stats: dict[str, Any] = {
        "count": len(rows),
        "threshold": float(params["threshold"]),
        "scorer": params["scorer"],
        "base": params["base"],
        "below_threshold": sum(1 for r in rows if r.confidence < float(params["threshold"])),
        "generated_examples": len(estimator.given_),
        "nodes_with_mined_terms": sum(1 for t in estimator.terms_.values() if t),
    }
    # Gold labels are never used for training, but where pseudo-labelled documents carry them (an evaluation corpus),
    # the share of pseudo-labels that equal a gold path says how good the training signal was.
    gold = gold_paths_for([r.document_id for r in rows], hierarchy) if rows else []
    checked = [(r, g) for r, g in zip(rows, gold, strict=True) if g]
    if checked:
        right = sum(1 for r, g in checked if tuple(r.path) in {tuple(int(hierarchy.ids[n]) for n in p) for p in g})
        stats["with_gold"] = len(checked)
        stats["accuracy"] = right / len(checked)
    if estimator.scorer_stats_:
        stats["llm"] = {k: v for k, v in estimator.scorer_stats_.items() if isinstance(v, (int, float))}
    return stats


class WeakHooks(StrategyHooks):
    """Training on pseudo-labels: no gold label is used; every document outside the test split is input."""

    def clean_params(self, params: dict, *, corrector: str) -> dict:
        return weak_params(super().clean_params(params, corrector=corrector))

    def members(self, params: dict) -> list[str]:
        return [str(params.get("scorer") or "zeroshot"), str(params.get("base") or "embed")]

    def training_ids(self, project) -> list[int]:
        ids = weak_training_ids(project)
        if not ids:
            raise ValidationError("No documents outside the test split to pseudo-label.")
        return ids

    def estimator_params(self, params: dict, hierarchy: Hierarchy) -> dict:
        """The label texts also go to the scorer and, when it takes them, to the base strategy."""
        out = super().estimator_params(params, hierarchy)
        texts = label_texts_for(hierarchy)
        scorer_params = dict(out.get("zeroshot_params") or {})
        if "label_texts" not in scorer_params and texts:
            scorer_params["label_texts"] = texts  # the engine hands them on as the scorer takes them
        out["zeroshot_params"] = scorer_params
        base = out.get("base", "embed")
        base_params = dict(out.get("base_params") or {})
        if "label_texts" in registry.strategy_class(base)._get_param_names() and "label_texts" not in base_params:
            if texts:
                base_params["label_texts"] = texts
        out["base_params"] = base_params
        out.setdefault("use_given_paths", True)
        return out

    def prepare_fit(self, *, run, estimator, doc_ids: list[int], paths: list) -> list:
        weak_prepare(run=run, estimator=estimator)
        return weak_given_paths(doc_ids, paths)

    def after_fit(self, *, run, estimator, doc_ids: list[int], hierarchy: Hierarchy) -> dict[str, Any]:
        return {
            "pseudo_labels": pseudo_labels_store(run=run, doc_ids=doc_ids, estimator=estimator, hierarchy=hierarchy)
        }
