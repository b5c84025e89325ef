"""Job handlers for runs: train, predict, evaluate, and the pipeline that does all three.

Handlers are thin: load the run named in `job.params`, call a service, report progress on the row.
"""

from __future__ import annotations

from django.urls import reverse

from classifiers import services
from classifiers.engine import registry
from classifiers.models import Run
from classifiers.strategies import strategy_hooks
from htc_app.bidi import isolate
from jobs.progress import JobCancelled, PhasedProgress
from jobs.registry import job_handler, job_target, job_target_state


# ----- what a run's jobs need (jobs/queues.py): torch work -> "compute", LLM calls -> "default" -----
def _strategy_needs(name: str) -> tuple[bool, bool]:
    """(uses torch, calls an LLM) for a strategy, from its declared capabilities."""
    try:
        caps = registry.capabilities(name)
    except ValueError:
        return False, False
    return caps.uses_torch, caps.calls_llm


def _run_needs(params: dict) -> tuple[bool, bool]:
    """(any torch, only LLM calls) over the strategies of the run a job names."""
    row = Run.objects.filter(pk=params.get("run_id")).values_list("strategy", "params").first()
    if row is None:
        return False, False
    strategy, params = row[0], row[1] or {}
    needs = [_strategy_needs(name) for name in [strategy, *strategy_hooks(strategy).members(params)]]
    learned = [n for n in needs if not n[1]]  # a cascade of LLM stages alone learns nothing
    return any(torch for torch, _ in needs), not learned


def training_resource(params: dict) -> str:
    """Training a run: torch strategies on the gpu queue when a GPU worker exists (else cpu), LLM-only runs on
    default (they wait on the endpoint), the rest on cpu."""
    uses_torch, llm_only = _run_needs(params)
    return "compute" if uses_torch else "default" if llm_only else "cpu"


def prediction_resource(params: dict) -> str:
    """Predicting with a run: encoding with torch is compute work; scikit-learn models and LLM calls are light."""
    uses_torch, _ = _run_needs(params)
    return "compute" if uses_torch else "default"


def enrich_resource(params: dict) -> str:
    """Enrichment scores the corpus zero-shot (torch) unless it only asks the LLM."""
    return "compute" if params.get("corpus", True) else "default"


def _run(job) -> Run:
    return Run.objects.select_related("project__taxonomy").get(pk=job.params["run_id"], project_id=job.project_id)


def _calls_llm(run: Run) -> bool:
    """Whether the run's time goes to LLM calls at prediction (training then costs next to nothing)."""
    return _strategy_needs(run.strategy)[1]


def _phases(run: Run, split: str, *, train: str | None, predict: bool, evaluate: bool) -> list[tuple[str, str, float]]:
    """The named phases of a run job with weights that roughly match where the time goes."""
    llm = _calls_llm(run)
    phases = []
    if train:
        phases.append(("train", train, 0.05 if llm else 0.7))
    if predict:
        phases.append(("predict", f"Predicting the {split} split", 0.9 if llm else 0.25))
    if evaluate:
        phases.append(("evaluate", f"Evaluating on the {split} split", 0.05))
    return phases


def _kept(run: Run, phase: str | None, split: str) -> str:
    """What a cancelled run job leaves behind, in words (shown as the cancelled job's message)."""
    run.refresh_from_db(fields=["state", "model_dir"])
    predictions = run.predictions.count()
    if run.state != Run.State.TRAINED or not run.model_dir:
        return "no model was kept: the run was not trained."
    kept = "the trained model is kept"
    if phase == "predict":
        kept += f" with {predictions:,} prediction{'s' if predictions != 1 else ''} of the {split} split"
    return kept + "."


def _run_phases(job, progress, *, train: str | None, predict: bool, evaluate: bool) -> dict:
    """Train (when `train` names the phase), predict and evaluate, in named phases; a cancel records what is kept."""
    run = _run(job)
    split = job.params.get("split", "test")
    if train and run.state == Run.State.TRAINED and job.kind != "train":
        train = None  # a pipeline on a trained run starts at prediction
    phased = None
    result: dict = {}
    try:
        phased = PhasedProgress(progress, _phases(run, split, train=train, predict=predict, evaluate=evaluate))
        if train:
            trainer = services.run_train if job.kind != "update_labels" else _update_train
            trainer(run=run, progress=phased.phase("train"))
            result.update({"run_id": run.pk, "train_seconds": round(run.train_seconds or 0.0, 3)})
            if job.kind == "update_labels":
                result["forgetting"] = run.stats["growth"]["forgetting"]
        if predict:
            written = services.run_predict(run=run, split=split, progress=phased.phase("predict"))
            result.update({"run_id": run.pk, "split": split, "predicted": written})
        if evaluate:
            phased.phase("evaluate")
            labels = job.params.get("labels", "uploaded")
            evaluation = services.run_evaluate(run=run, split=split, labels=labels)
            result.update(
                {
                    "run_id": run.pk,
                    "split": split,
                    "labels": labels,
                    "documents": evaluation.document_count,
                    "exact_path_accuracy": evaluation.metrics.get("exact_path_accuracy"),
                }
            )
    except JobCancelled:
        if train:  # stopped before or while training: the run is cancelled, not failed (and not "new")
            Run.objects.filter(pk=run.pk).exclude(state=Run.State.TRAINED).update(state=Run.State.CANCELLED)
        if progress is not None:
            current = phased.current if phased is not None else None
            progress.kept = _kept(run, current["key"] if current else None, split)
        raise
    return result


def _update_train(*, run: Run, progress) -> None:
    from classifiers.growth import run_update_train

    run_update_train(run=run, progress=progress)


@job_handler("train", resource=training_resource)
def train_handler(job, progress) -> dict:
    run = _run(job)
    return _run_phases(job, progress, train=f"Training {isolate(run.name)}", predict=False, evaluate=False)


@job_handler("predict", resource=prediction_resource)
def predict_handler(job, progress) -> dict:
    return _run_phases(job, progress, train=None, predict=True, evaluate=False)


@job_handler("evaluate")
def evaluate_handler(job, progress) -> dict:
    return _run_phases(job, progress, train=None, predict=False, evaluate=True)


@job_handler("pipeline", resource=training_resource)
def pipeline_handler(job, progress) -> dict:
    """Train (unless already trained), predict a split and evaluate on it."""
    run = _run(job)
    return _run_phases(job, progress, train=f"Training {isolate(run.name)}", predict=True, evaluate=True)


@job_handler("update_labels", resource=training_resource)
def update_labels_handler(job, progress) -> dict:
    """Update a run's model from its parent's for new labels (unless done already), predict a split, evaluate."""
    run = _run(job)
    return _run_phases(job, progress, train=f"Updating {run.name} for the new labels", predict=True, evaluate=True)


@job_target("run")
def run_url(job) -> str:
    return reverse("classifiers:run", args=[job.project_id, job.target_id])


@job_target_state("run")
def run_state(job) -> tuple[str, str] | None:
    state = Run.objects.filter(pk=job.target_id, project_id=job.project_id).values_list("state", flat=True).first()
    return (state, Run.State(state).label) if state else None


# ----- cold start: taxonomy enrichment and LLM-written examples -----
ENRICH_OPTIONS = ("top_k", "corpus", "llm", "replace_edited", "max_documents", "max_llm_calls", "rounds")


@job_handler("taxonomy_enrich", resource=enrich_resource)
def taxonomy_enrich_handler(job, progress) -> dict:
    """Mine (and/or ask the LLM for) terms per label; job.params holds only the non-secret options."""
    from classifiers.coldstart import taxonomy_enrich, taxonomy_enrich_phases

    options = {k: v for k, v in job.params.items() if k in ENRICH_OPTIONS}
    phased = PhasedProgress(
        progress, taxonomy_enrich_phases(corpus=bool(options.get("corpus", True)), llm=bool(options.get("llm", False)))
    )
    return taxonomy_enrich(project=job.project, actor=job.created_by, progress=phased, **options)


@job_handler("examples_generate")
def examples_generate_handler(job, progress) -> dict:
    """Ask the LLM for example documents per leaf path (leaves that already have enough are skipped)."""
    from classifiers.coldstart import EXAMPLES_PHASES, examples_generate

    options = {k: v for k, v in job.params.items() if k in ("per_leaf", "max_llm_calls")}
    phased = PhasedProgress(progress, EXAMPLES_PHASES)
    return examples_generate(project=job.project, actor=job.created_by, progress=phased, **options)


@job_target("taxonomy")
def taxonomy_url(job) -> str:
    return reverse("taxonomies:editor", args=[job.project_id])


@job_target("corpus_generated")
def generated_url(job) -> str:
    return reverse("corpora:documents", args=[job.project_id]) + "?generated=yes"
