"""Runs, a run's predictions and the metrics dashboard. Thin: validate, call a service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from classifiers import plots, selectors, tradeoff
from classifiers.forms import RunForm, RunJobForm, RunUpdateForm, run_form_initial
from classifiers.growth import growth_refusal, run_update_start
from classifiers.models import Run
from classifiers.services import run_job_start, run_start
from htc_app.bidi import isolate
from htc_app.params import id_param
from projects.models import Role
from projects.selectors import project_for_user
from projects.views import form_errors_from

SPLIT_CHOICES = ("test", "dev", "train", "all")
LEVEL_METRICS = {"micro_f1": "Micro-F1", "macro_f1": "Macro-F1", "accuracy": "Accuracy"}


@login_required
def run_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    can_start = project.current_membership.has_role(Role.ANNOTATOR)
    form = RunForm(request.POST or None, initial=run_form_initial(request.GET))
    if request.method == "POST":
        project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
        if form.is_valid():
            data = form.cleaned_data
            try:
                run, _ = run_start(
                    project=project,
                    split=data["split"],
                    actor=request.user,
                    **{key: data[key] for key in ("strategy", "params", "shots", "seed", "name")},
                    corrector=data["corrector"] or "",
                )
            except ValidationError as exc:
                form_errors_from(form, exc)
            else:
                messages.success(
                    request, f"Run {isolate(run.name)} started: train, predict the {data['split']} split, evaluate."
                )
                return redirect("classifiers:run", project_id=project.pk, run_id=run.pk)
    runs = [(run, selectors.run_latest_evaluation(run)) for run in selectors.run_list_for_project(project=project)]
    return render(
        request, "classifiers/runs.html", {"project": project, "runs": runs, "form": form, "can_start": can_start}
    )


@login_required
@require_GET
def run_detail(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    jobs = list(selectors.run_jobs(run=run)[:10])
    prediction_count = run.predictions.count()
    busy = bool(jobs) and jobs[0].is_active
    job_form = RunJobForm(run=run, has_predictions=bool(prediction_count))
    context = {
        "project": project,
        "run": run,
        "jobs": jobs,
        "latest_job": jobs[0] if jobs else None,
        "evaluations": run.evaluations.order_by("split"),
        "prediction_count": prediction_count,
        "pseudo": run.stats.get("pseudo_labels"),
        "llm": selectors.run_llm_summary(run),
        "job_form": job_form if not busy and job_form.fields["kind"].choices else None,
        "cascade": tradeoff.cascade_summary(run),
        "tradeoffs": tradeoff.threshold_tradeoffs(run) if run.state == Run.State.TRAINED else [],
        "can_start": project.current_membership.has_role(Role.ANNOTATOR),
        **_growth_context(run, project),
        **_stale_context(run, project),
    }
    return render(request, "classifiers/run_detail.html", context)


def _stale_context(run: Run, project) -> dict:
    """The run's predictions whose labels moved or were deleted since, with the path each stands for now."""
    from classifiers.staleness import run_stale_predictions
    from corpora.models import Document
    from taxonomies.selectors import taxonomy_tree

    count, found = run_stale_predictions(run=run, limit=50)
    if not count:
        return {"stale_count": 0, "stale_rows": []}
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    names = dict(Document.objects.filter(pk__in=[p.document_id for p, _ in found]).values_list("pk", "external_id"))
    rows = [
        {
            "prediction": prediction,
            "document": names.get(prediction.document_id) or f"#{prediction.document_id}",
            "reason": stale.reason,
            "now": " | ".join(tree.path_shown(p[-1]) for p in stale.current_paths) if stale.current_paths else "",
        }
        for prediction, stale in found
    ]
    return {"stale_count": count, "stale_rows": rows}


def _growth_context(run: Run, project) -> dict:
    """The forgetting report of an updated run (numbers and a bar plot), and whether this run can be updated."""
    growth = run.stats.get("growth") or {}
    report = growth.get("forgetting")
    plot = None
    if report:
        old, new = report["old_labels"], report["new_labels"]
        groups = [f"Untouched old labels ({old['documents']})", f"New labels ({new['documents']})"]
        before = [old["before"] or 0.0, new["before"] or 0.0]
        after = [old["after"] or 0.0, new["after"] or 0.0]
        parent_name = run.parent_run.name if run.parent_run else "parent"
        series = [(f"before ({isolate(parent_name)})", before), (f"after ({isolate(run.name)})", after)]
        plot = plots.grouped_bars(groups, series)
    outdated = run.state == Run.State.TRAINED and run.taxonomy_version != project.taxonomy.version
    return {
        "growth": growth,
        "forgetting": report,
        "forgetting_plot": plot,
        "update_form": RunUpdateForm() if outdated and growth_refusal(run.strategy) is None else None,
        "update_refusal": growth_refusal(run.strategy) if outdated else None,
    }


@login_required
@require_POST
def run_update(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """Start "update for new labels": a child run built from this run's model, then predicted and evaluated."""
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    parent = get_object_or_404(Run, project=project, pk=run_id)
    form = RunUpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The rehearsal share is a number between 0 and 1, the epochs a number from 1 to 50.")
        return redirect("classifiers:run", project_id=project.pk, run_id=parent.pk)
    try:
        run, _ = run_update_start(parent=parent, actor=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("classifiers:run", project_id=project.pk, run_id=parent.pk)
    messages.success(request, f"Started {isolate(run.name)}: updating {isolate(parent.name)} for the new labels.")
    return redirect("classifiers:run", project_id=project.pk, run_id=run.pk)


@login_required
@require_POST
def run_job(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    run = get_object_or_404(Run, project=project, pk=run_id)
    form = RunJobForm(request.POST, run=run)
    if not form.is_valid():
        refusal = selectors.run_job_refusal(run, request.POST.get("kind", ""))
        if "kind" in form.errors and refusal:
            messages.error(request, refusal)
        else:
            messages.error(request, "Choose what to do and on which split.")
    else:
        labels = form.cleaned_data.get("labels") or "uploaded"
        try:
            run_job_start(
                run=run,
                kind=form.cleaned_data["kind"],
                split=form.cleaned_data["split"],
                actor=request.user,
                labels=labels if form.cleaned_data["kind"] != "predict" else "uploaded",
            )
        except ValidationError as exc:  # e.g. a job on this run started from another tab meanwhile
            messages.error(request, " ".join(exc.messages))
            return redirect("classifiers:run", project_id=project.pk, run_id=run.pk)
        against = " against reviewed labels" if labels == "reviewed" and form.cleaned_data["kind"] != "predict" else ""
        messages.success(
            request, f"Started: {form.cleaned_data['kind']} on the {form.cleaned_data['split']} split{against}."
        )
    return redirect("classifiers:run", project_id=project.pk, run_id=run.pk)


@login_required
@require_GET
def prediction_list(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    from taxonomies.selectors import taxonomy_tree

    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    consistent = {"yes": True, "no": False}.get(request.GET.get("consistent", ""))
    order = "margin" if request.GET.get("order") == "margin" else "document"
    page = Paginator(selectors.prediction_list(run=run, consistent=consistent, order=order), 50).get_page(
        request.GET.get("page")
    )
    tree = taxonomy_tree(taxonomy=project.taxonomy)

    def names(ids: list[int]) -> list[str]:
        return [tree.nodes[i].name if i in tree.nodes else f"#{i} (deleted)" for i in ids]

    rows = [
        {
            "prediction": p,
            "paths": [names(path) for path in p.paths],
            "raw_paths": [names(path) for path in p.raw_paths],
            "scores": [f"{s:.2f}" for s in p.scores],
        }
        for p in page.object_list
    ]
    context = {
        "project": project,
        "run": run,
        "page": page,
        "rows": rows,
        "order": order,
        "consistent": request.GET.get("consistent", ""),
    }
    return render(request, "classifiers/predictions.html", context)


@login_required
@require_GET
def pseudo_label_list(request: HttpRequest, project_id: int, run_id: int) -> HttpResponse:
    """The documents a weak run pseudo-labelled, with the path it gave each and its confidence."""
    from taxonomies.selectors import taxonomy_tree

    project = project_for_user(user=request.user, project_id=project_id)
    run = get_object_or_404(Run, project=project, pk=run_id)
    page = Paginator(selectors.run_pseudo_labels(run=run), 100).get_page(request.GET.get("page"))
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    rows = [{"label": p, "path": selectors.path_text(tree, p.path)} for p in page.object_list]
    context = {"project": project, "run": run, "page": page, "rows": rows, "pseudo": run.stats.get("pseudo_labels")}
    return render(request, "classifiers/pseudo_labels.html", context)


@login_required
@require_GET
def metrics(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    split = request.GET.get("split") if request.GET.get("split") in SPLIT_CHOICES else "test"
    all_runs = list(selectors.run_list_for_project(project=project))
    evaluated = [run for run in all_runs if selectors.run_latest_evaluation(run, split)]
    wanted = {id_param(v, 0) for v in request.GET.getlist("run")}
    selected = [run for run in evaluated if run.pk in wanted] or evaluated[:6]
    level_metric = request.GET.get("level_metric") if request.GET.get("level_metric") in LEVEL_METRICS else "micro_f1"
    shots_metric = request.GET.get("shots_metric", "micro_f1")
    table = selectors.comparison_table(selected, split)
    metric_choices = [(key, label) for label, key, _ in table["rows"] if key != "n_documents"]
    if shots_metric not in {k for k, _ in metric_choices}:
        shots_metric = "micro_f1"
    groups, bar_series = selectors.per_level_series(selected, split, level_metric)
    categories, line_series = selectors.shots_series(evaluated, split, shots_metric)
    confusion_run = next((r for r in evaluated if r.pk == id_param(request.GET.get("confusion_run"), 0)), None)
    confusion_run = confusion_run or (selected[0] if selected else None)
    confusion = None
    if confusion_run is not None:
        confusion = selectors.confusion_for_run(
            run=confusion_run, split=split, level=id_param(request.GET.get("level"), 1)
        )
    context = {
        "project": project,
        "split": split,
        "split_choices": SPLIT_CHOICES,
        "evaluated": evaluated,
        "selected_ids": {run.pk for run in selected},
        "table": table,
        "level_metric": level_metric,
        "level_metrics": LEVEL_METRICS,
        "shots_metric": shots_metric,
        "metric_choices": metric_choices,
        "bars": plots.grouped_bars(groups, bar_series),
        "lines": plots.lines(categories, line_series),
        "confusion_run": confusion_run,
        "confusion": confusion,
        "heatmap": plots.heatmap(confusion["labels"], confusion["matrix"]) if confusion else None,
        "level_metric_label": LEVEL_METRICS[level_metric],
        "shots_metric_label": dict(metric_choices).get(shots_metric, shots_metric),
        "levels": range(1, (confusion["n_levels"] if confusion else 0) + 1),
    }
    return render(request, "classifiers/metrics.html", context)
