"""Cold start, the Django side: taxonomy enrichment and LLM-written examples.

- `taxonomy_enrich`: zero-shot over the project's corpus, then terms mined per node (and, optionally,
  terms asked from the project's LLM endpoint), stored in Node.terms with their source.
- `examples_generate`: the LLM writes a few short documents per leaf path; they are stored as
  documents flagged `generated` in the train split, labelled with their path, for weak runs.

The engine does the work (`classifiers.engine.coldstart`, `classifiers.engine.llm.enrich`); this module
reads rows, hands over plain data and writes the results. Job handlers live in `classifiers.jobs`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError

from classifiers.adapters import hierarchy_for_taxonomy, label_texts_for
from classifiers.engine.base import progress_note
from classifiers.engine.hierarchy import Hierarchy
from jobs.progress import PhasedProgress

ProgressFn = Callable[[int, int], None] | None
MAX_ERRORS_SHOWN = 20


def llm_client_for(project):
    """A guarded LLM client for the project's endpoint (the key is decrypted here, in the worker, only)."""
    from classifiers.engine.llm.client import LLMClient
    from endpoints.services import endpoint_client_kwargs

    kwargs = endpoint_client_kwargs(project)
    kwargs.pop("templates", None)
    return LLMClient(**kwargs, cache_dir=FsPath(settings.HTC_DATA_DIR) / "llm_cache")


def taxonomy_enrich_phases(*, corpus: bool = True, llm: bool = False) -> list[tuple[str, str, float]]:
    """The named, weighted phases of an enrichment job (jobs.progress.PhasedProgress): scoring the corpus
    (encoding most of it) and asking the LLM take the time, storing the terms next to none."""
    phases = []
    if corpus:
        phases.append(("corpus", "Scoring the corpus zero-shot and mining terms", 0.6 if llm else 0.95))
    if llm:
        phases.append(("llm", "Asking the LLM for terms", 0.35 if corpus else 0.95))
    phases.append(("store", "Storing the terms", 0.05))
    return phases


EXAMPLES_PHASES = [("llm", "Asking the LLM for examples", 0.95), ("store", "Storing the examples", 0.05)]


def _phase(progress: PhasedProgress | None, key: str) -> PhasedProgress | None:
    """Start phase `key` of the job's phased progress; returns the engine callback (None without a job)."""
    return progress.phase(key) if progress is not None else None


def _corpus_texts(project, max_documents: int, seed: int) -> list[str]:
    from corpora.models import Document

    ids = list(Document.objects.filter(project=project, generated=False).order_by("id").values_list("id", flat=True))
    if len(ids) > max_documents:
        rng = np.random.default_rng(seed)
        ids = sorted(int(i) for i in rng.choice(ids, size=max_documents, replace=False))
    texts: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        texts.update(Document.objects.filter(pk__in=chunk).values_list("id", "text"))
    return [texts[i] for i in ids if i in texts]


def _errors_by_path(hierarchy: Hierarchy, errors: dict[int, str]) -> dict[str, str]:
    """The first MAX_ERRORS_SHOWN LLM problems keyed by the label's path, for the job result."""
    return {hierarchy.path_label(hierarchy.path_to(v)): why for v, why in list(errors.items())[:MAX_ERRORS_SHOWN]}


def mine_corpus_terms(
    *, project, hierarchy: Hierarchy, top_k: int, max_documents: int, seed: int, progress: ProgressFn, rounds: int = 2
) -> tuple[dict[int, list[str]], int]:
    """Zero-shot over the corpus, then terms per node index, refined `rounds` times; returns (terms, documents)."""
    from classifiers.engine.coldstart import enrich_zero_shot

    texts = _corpus_texts(project, max_documents, seed)
    if not texts:
        raise ValidationError("The project has no documents to mine terms from: upload a corpus first.")
    terms, _ = enrich_zero_shot(
        texts,
        hierarchy,
        label_texts=label_texts_for(hierarchy, machine_terms=False),
        rounds=rounds,
        top_k=top_k,
        min_df=2 if len(texts) >= 20 else 1,
        progress=progress,
    )
    return terms, len(texts)


def taxonomy_enrich(
    *,
    project,
    actor=None,
    top_k: int = 8,
    corpus: bool = True,
    llm: bool = False,
    replace_edited: bool = False,
    max_documents: int = 20_000,
    max_llm_calls: int = 500,
    rounds: int = 2,
    seed: int = 550,
    progress: PhasedProgress | None = None,
) -> dict[str, Any]:
    """Find class-indicative terms for every label and store them in Node.terms.

    `corpus`: terms that separate each label's likely documents (by zero-shot scores) from its siblings',
    refined `rounds` times (the label texts enriched with the terms found, then scored and mined again).
    `llm`: terms the project's LLM lists for each label given its parent path and siblings (at most
    `max_llm_calls` calls; invalid answers store nothing and are reported). Terms a person gave are kept
    unless `replace_edited`. `progress`: the job's phases (`taxonomy_enrich_phases`), reported as they run.
    Returns a summary (documents, nodes updated and kept, LLM usage and errors)."""
    from taxonomies.terms import taxonomy_enrich_terms

    if not corpus and not llm:
        raise ValidationError("Choose where the terms come from: the corpus, the LLM or both.")
    if not 1 <= int(top_k) <= 50:
        raise ValidationError({"top_k": "Ask for between 1 and 50 terms per label."})
    taxonomy = project.taxonomy
    hierarchy = hierarchy_for_taxonomy(taxonomy)
    if not len(hierarchy):
        raise ValidationError("The taxonomy is empty: add labels first.")
    summary: dict[str, Any] = {"documents": 0}
    mined: dict[int, list[str]] = {}
    if corpus:
        mined, summary["documents"] = mine_corpus_terms(
            project=project,
            hierarchy=hierarchy,
            top_k=int(top_k),
            max_documents=int(max_documents),
            rounds=max(1, min(int(rounds), 5)),
            seed=seed,
            progress=_phase(progress, "corpus"),
        )
    asked: dict[int, list[str]] = {}
    if llm:
        from classifiers.engine.llm.enrich import ask_terms

        client = llm_client_for(project)
        asking = _phase(progress, "llm")
        progress_note(asking, f"one call per label, {min(len(hierarchy), int(max_llm_calls)):,} labels")
        try:
            batch = ask_terms(
                client,
                hierarchy,
                list(range(len(hierarchy))),
                k=int(top_k),
                max_calls=int(max_llm_calls),
                seed=seed,
                progress=asking,
            )
        finally:
            client.close()
        asked = batch.results
        if not corpus and not asked:
            first = next(iter(batch.errors.values()), "no label was asked")
            raise ValidationError(
                f"The LLM gave no usable terms ({len(batch.errors)} labels asked; first problem: {first}). "
                "Nothing was stored."
            )
        summary["llm"] = batch.summary()
        summary["llm_errors"] = _errors_by_path(hierarchy, batch.errors)
    _phase(progress, "store")
    source = "mined+llm" if corpus and llm else "mined" if corpus else "llm"
    combined: dict[int, list[str]] = {}
    for v in range(len(hierarchy)):
        terms = list(mined.get(v, []))
        terms += [t for t in asked.get(v, []) if t not in terms]
        if terms:
            combined[int(hierarchy.ids[v])] = terms
    outcome = taxonomy_enrich_terms(
        taxonomy=taxonomy, terms=combined, source=source, actor=actor, replace_edited=replace_edited
    )
    summary.update(
        source=source,
        nodes=len(hierarchy),
        nodes_with_terms=len(combined),
        updated=len(outcome["updated"]),
        kept_edited=len(outcome["kept_edited"]),
    )
    return summary


def examples_generate(
    *,
    project,
    actor=None,
    per_leaf: int = 3,
    max_llm_calls: int = 500,
    seed: int = 550,
    progress: PhasedProgress | None = None,
) -> dict[str, Any]:
    """Ask the project's LLM for `per_leaf` short documents per leaf path and store them as generated
    documents (train split, labelled with their path). Leaves that already have that many are skipped,
    so a retried job does not write twice. `progress`: the job's phases (EXAMPLES_PHASES). Returns a summary
    (documents written, LLM usage, errors)."""
    from classifiers.engine.llm.enrich import ask_examples
    from corpora.models import GoldLabel

    if not 1 <= int(per_leaf) <= 20:
        raise ValidationError({"per_leaf": "Ask for between 1 and 20 examples per leaf path."})
    hierarchy = hierarchy_for_taxonomy(project.taxonomy)
    if not len(hierarchy):
        raise ValidationError("The taxonomy is empty: add labels first.")
    have: dict[int, int] = {}
    for node_id in GoldLabel.objects.filter(document__project=project, document__generated=True).values_list(
        "node_id", flat=True
    ):
        have[node_id] = have.get(node_id, 0) + 1
    todo = [leaf for leaf in hierarchy.leaves if have.get(int(hierarchy.ids[leaf]), 0) < int(per_leaf)]
    client = llm_client_for(project)
    asking = _phase(progress, "llm")
    progress_note(asking, f"one call per leaf path, {min(len(todo), int(max_llm_calls)):,} leaves")
    try:
        batch = ask_examples(
            client,
            hierarchy,
            todo,
            n=int(per_leaf),
            max_calls=int(max_llm_calls),
            seed=seed,
            progress=asking,
        )
    finally:
        client.close()
    _phase(progress, "store")
    written = _store_examples(
        project=project, actor=actor, hierarchy=hierarchy, batch=batch.results, model=client.model
    )
    return {
        "leaves": len(hierarchy.leaves),
        "leaves_asked": len(todo) - len(batch.skipped),
        "documents": written,
        "llm": batch.summary(),
        "llm_errors": _errors_by_path(hierarchy, batch.errors),
    }


def _store_examples(*, project, actor, hierarchy: Hierarchy, batch: dict[int, list[str]], model: str) -> int:
    from corpora.labels import generated_documents_add
    from taxonomies.models import Node

    live = set(Node.objects.filter(pk__in=[int(hierarchy.ids[v]) for v in batch]).values_list("pk", flat=True))
    examples = [
        (
            int(hierarchy.ids[leaf]),
            text,
            {"generated_by": model[:200], "path": hierarchy.path_label(hierarchy.path_to(leaf))},
        )
        for leaf, texts in batch.items()
        if int(hierarchy.ids[leaf]) in live  # not deleted while the LLM was writing
        for text in texts
    ]
    return generated_documents_add(project=project, actor=actor, examples=examples)


# ----- background jobs -----
COLDSTART_JOBS = {"taxonomy_enrich": "taxonomy", "examples_generate": "corpus_generated"}


def coldstart_job_start(*, project, kind: str, params: dict, actor=None):
    """Start an enrichment or example-generation job, or return the one of that kind already queued or running."""
    from jobs.models import Job
    from jobs.services import job_start

    if kind not in COLDSTART_JOBS:
        raise ValidationError({"kind": f"Unknown cold-start job {kind!r}."})
    active = Job.objects.filter(project=project, kind=kind, state__in=Job.ACTIVE_STATES).first()
    if active is not None:
        return active
    return job_start(
        kind=kind,
        project=project,
        params=params,
        created_by=actor,
        target_type=COLDSTART_JOBS[kind],
        target_id=project.pk,
    )


def taxonomy_enrich_start(*, project, source: str, top_k: int, replace_edited: bool, actor=None):
    """Start (or return the running) "Enrich taxonomy" job: terms from the corpus, the LLM or both (`source`)
    for every label. What the editor page and `POST .../taxonomy/enrich/` both do."""
    params = {"top_k": top_k, "corpus": source in ("corpus", "both"), "llm": source in ("llm", "both")}
    return coldstart_job_start(
        project=project, kind="taxonomy_enrich", params={**params, "replace_edited": replace_edited}, actor=actor
    )


def examples_generate_start(*, project, per_leaf: int, actor=None):
    """Start (or return the running) job that asks the LLM for `per_leaf` example documents per leaf path."""
    return coldstart_job_start(project=project, kind="examples_generate", params={"per_leaf": per_leaf}, actor=actor)


def coldstart_latest_job(*, project, kind: str):
    """The project's newest job of this cold-start kind, or None."""
    from jobs.models import Job

    return Job.objects.filter(project=project, kind=kind).order_by("-created_at", "-id").first()
