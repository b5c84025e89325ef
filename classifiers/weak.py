"""Weak runs (strategy "weak"): the Django side of training on pseudo-labels instead of gold labels.

`classifiers.services` calls these: at run creation (`weak_params`, `weak_training_ids`), at training
(`with_label_texts` for every strategy, `weak_prepare` for an LLM scorer, `weak_given_paths`) and when the
model is saved (`pseudo_labels_store`, which records the pseudo-labelled documents as PseudoLabel rows).
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from classifiers.coldstart import label_texts_for
from classifiers.engine.hierarchy import Hierarchy

WEAK_BASES = ("hierverb", "embed", "tfidf")
#: Strategies that learn from labelled documents cannot score a corpus before any label exists.
SUPERVISED_SCORERS = {"weak", "cascade", "tfidf", "embed", "hierverb", "hiericrf"}


def weak_params(params: dict) -> dict:
    """A weak run's parameters, checked, with the pseudo-label threshold from the settings when not given."""
    from classifiers.engine import registry

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
    if scorer not in registry.STRATEGIES or scorer in SUPERVISED_SCORERS:
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


def with_label_texts(strategy: str, params: dict, hierarchy: Hierarchy) -> dict:
    """Estimator parameters with the taxonomy's label texts (descriptions and terms) handed to the strategy
    the way it takes them, unless the run set them itself. Nothing here is stored in Run.params."""
    from classifiers.engine import registry

    texts = label_texts_for(hierarchy)
    out = dict(params)
    accepted = registry.strategy_class(strategy)._get_param_names()
    if "label_texts" in accepted and "label_texts" not in out and texts:
        out["label_texts"] = texts
    if "label_descriptions" in accepted and texts:
        out.setdefault("use_descriptions", True)  # filled from the taxonomy at predict time
    if strategy == "weak":
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


def weak_prepare(*, run, estimator) -> None:
    """Point a weak run's LLM scorer at the project's endpoint: settings as scorer parameters, the key at
    run time only (never a parameter, never saved)."""
    scorer = estimator.get_params(deep=False).get("scorer", "zeroshot")
    if not str(scorer).startswith("llm-"):
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
        cache_dir=FsPath(settings.HTC_DATA_DIR) / "llm_cache",
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
    if estimator.scorer_stats_:
        stats["llm"] = {k: v for k, v in estimator.scorer_stats_.items() if isinstance(v, (int, float))}
    return stats
