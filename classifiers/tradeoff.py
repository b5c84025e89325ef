"""Reads for the run page of cascade runs (and any run with dev predictions): per-stage figures and the
accuracy / cost trade-off against the routing threshold, computed on the dev split.

For a cascade the dev figures were recorded at training time (every stage saw every dev document, so
what the next stage would have said is known); for any other run the stored dev predictions give
"accept automatically above the threshold, send the rest to human review".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from classifiers import plots
from classifiers.cascading import CASCADE
from classifiers.engine.calibration import threshold_sweep
from classifiers.forms import params_as_lines
from classifiers.models import Prediction, Run
from htc_app.bidi import isolate

THRESHOLDS = [round(0.05 * i, 2) for i in range(21)]


def cascade_summary(run: Run) -> dict[str, Any] | None:
    """Per stage of a trained cascade: threshold, temperatures, ECE before/after calibration on dev, and the
    documents routed to / decided by it with their LLM calls and tokens; None for other runs."""
    cascade = run.stats.get(CASCADE) if run.strategy == CASCADE else None
    if not cascade:
        return None
    predicted = (cascade.get("predict") or {}).get("stages") or []
    trained = cascade.get("stages") or []
    rows = []
    for k, stage in enumerate(trained):
        counts = predicted[k] if k < len(predicted) else {}
        rows.append(
            {
                "name": stage.get("name", f"{k + 1}"),
                "threshold": stage.get("threshold", 0.0),
                "last": k == len(trained) - 1,
                "temperatures": ", ".join(f"{t:.2f}" for t in stage.get("temperatures") or []),
                "ece_before": stage.get("ece_before"),
                "ece_after": stage.get("ece_after"),
                "routed": counts.get("routed", 0),
                "decided": counts.get("decided", 0),
                "review": counts.get("review", 0),
                "calls": counts.get("calls", 0),
                "tokens": counts.get("prompt_tokens", 0) + counts.get("completion_tokens", 0),
                "cost": counts.get("cost", 0.0),
            }
        )
    return {
        "stages": rows,
        "review_on": bool(cascade.get("review")),
        "review": (cascade.get("predict") or {}).get("review", 0),
        "predicted": bool(predicted),
        "dev_llm_calls": sum(int(((s.get("dev") or {}).get("llm") or {}).get("calls", 0)) for s in trained),
    }


def threshold_tradeoffs(run: Run) -> list[dict[str, Any]]:
    """One trade-off per routing decision of the run (stage k -> k+1, last stage -> human review), each with
    sweep rows (threshold, accuracy, escalated share, next-stage calls and tokens per 1,000 documents, a
    link to a new run with that threshold) and the plot geometry. Empty without dev figures."""
    if run.strategy == CASCADE:
        return _cascade_tradeoffs(run)
    confidences, correct = _dev_predictions(run)
    if not confidences or not any(confidences):
        return []  # no dev prediction, or none with a confidence (nothing predicted): no curve of zeros
    tradeoff = _tradeoff(run, "This run → human review", confidences, correct, [True] * len(correct), {}, None)
    evaluation = run.evaluations.filter(split="dev").first()
    # Only an evaluation against the uploaded gold scores the plot's documents (reviewed labels add others).
    if evaluation is not None and evaluation.metrics.get("labels", "uploaded") == "uploaded":
        tradeoff["evaluation"] = {
            "documents": evaluation.document_count,
            "exact_path_accuracy": evaluation.metrics.get("exact_path_accuracy"),
        }
    return [tradeoff]


def _cascade_tradeoffs(run: Run) -> list[dict[str, Any]]:
    trained = (run.stats.get(CASCADE) or {}).get("stages") or []
    devs = [stage.get("dev") or {} for stage in trained]
    if not devs or not all(dev.get("confidence") for dev in devs):
        return []
    out = []
    for k, dev in enumerate(devs):
        if k + 1 < len(devs):
            title = f"Stage {isolate(trained[k]['name'])} → stage {isolate(trained[k + 1]['name'])}"
            nxt = devs[k + 1]
            out.append(_tradeoff(run, title, dev["confidence"], dev["correct"], nxt["correct"], nxt, k))
        else:
            title = f"Stage {isolate(trained[k]['name'])} → human review"
            out.append(_tradeoff(run, title, dev["confidence"], dev["correct"], [True] * len(dev["correct"]), {}, k))
    return out


def _tradeoff(run: Run, title: str, conf, correct, correct_next, next_dev: dict, boundary: int | None) -> dict:
    rows = threshold_sweep(conf, correct, correct_next, 0.0, 1.0, THRESHOLDS)
    for row in rows:
        row["calls_per_1000"] = row["escalated"] * float(next_dev.get("calls_per_doc", 0.0)) * 1000
        row["tokens_per_1000"] = row["escalated"] * float(next_dev.get("tokens_per_doc", 0.0)) * 1000
        row["apply_url"] = _apply_url(run, boundary, row["threshold"])
    to_review = not next_dev
    plot = plots.lines(
        [f"{t:.2f}" for t in THRESHOLDS],
        [
            ("exact path accuracy" + (" (reviewers right)" if to_review else ""), [r["accuracy"] for r in rows]),
            ("share sent to review" if to_review else "share sent to the next stage", [r["escalated"] for r in rows]),
        ],
        point_title="{name} at threshold {x}: {value:.3f}",
        label_every=2,
    )
    return {"title": title, "rows": rows, "plot": plot, "documents": len(conf), "to_review": to_review}


def _apply_url(run: Run, boundary: int | None, threshold: float) -> str:
    """The new-run form prefilled with this run's cascade (or this run + human review) at `threshold`."""
    query: dict[str, Any] = {
        "strategy": CASCADE,
        "name": f"{run.name}-t{threshold:.2f}",
        "shots": run.shots,
        "seed": run.seed,
    }
    if run.strategy == CASCADE:
        stages = [dict(stage) for stage in run.params.get("stages") or []]
        extra = {key: value for key, value in run.params.items() if key != "stages"}
        if extra:
            query["params"] = params_as_lines(extra)
    else:
        stages = [{"strategy": run.strategy, "params": run.params, "corrector": run.corrector, "threshold": 0.0}]
    if boundary is None:
        boundary = len(stages) - 1
    stages[boundary]["threshold"] = threshold
    for k, stage in enumerate(stages, start=1):
        query[f"stage{k}_strategy"] = stage["strategy"]
        if stage.get("params"):
            query[f"stage{k}_params"] = params_as_lines(stage["params"])
        if stage.get("corrector"):
            query[f"stage{k}_corrector"] = stage["corrector"]
        if k < len(stages):
            query[f"stage{k}_threshold"] = f"{stage['threshold']:g}"
    review_threshold = float(stages[-1].get("threshold") or 0.0)
    if review_threshold > 0:
        query["review"] = "1"
        query["review_threshold"] = f"{review_threshold:g}"
    return f"{reverse('classifiers:runs', args=[run.project_id])}?{urlencode(query)}#run-form"


def _dev_predictions(run: Run) -> tuple[list[float], list[bool]]:
    """Path confidence (product of the per-level scores) and exact-path correctness of the run's stored
    predictions on its dev documents."""
    import math

    from classifiers.adapters import gold_paths_for, node_ids_of, run_hierarchy

    if not run.dev_document_ids or not run.model_dir:
        return [], []
    # The evaluation's documents (gold labels, not LLM-written), so the plot and the dev evaluation agree.
    rows = list(
        Prediction.objects.filter(
            run=run, document__split="dev", document__gold_labels__isnull=False, document__generated=False
        )
        .distinct()
        .order_by("document_id")
        .values_list("document_id", "paths", "scores")
    )
    if not rows:
        return [], []
    hierarchy = run_hierarchy(run)
    gold = gold_paths_for([doc_id for doc_id, _, _ in rows], hierarchy)
    confidences, correct = [], []
    for (_, paths, scores), gold_paths in zip(rows, gold, strict=True):
        confidences.append(float(math.prod(scores)) if scores else 0.0)
        # Exact path accuracy, as the evaluation measures it: the predicted paths are the gold paths.
        wanted = {tuple(node_ids_of(p, hierarchy)) for p in gold_paths}
        correct.append(bool(paths) and {tuple(p) for p in paths} == wanted)
    return confidences, correct
