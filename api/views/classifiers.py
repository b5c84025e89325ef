"""Runs (start = create the run and queue its job; nothing trains in the request) and predictions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.response import Response

from api.params import Bool, Choice, Int, Ordering, QuerySpec, Text, query
from api.serializers.classifiers import PredictionSerializer, RunCreateSerializer, RunJobSerializer, RunSerializer
from api.serializers.jobs import JobSerializer
from api.views.base import ProjectScopedView
from classifiers.models import Prediction, Run
from classifiers.selectors import prediction_list, run_list_for_project
from classifiers.services import run_job_start, run_start
from projects.models import Role
from taxonomies.selectors import taxonomy_tree


class RunQuery(QuerySpec):
    state = Choice([s.value for s in Run.State], "Only runs in this state.")
    ordering = Ordering({"created_at": ["created_at", "id"], "name": ["name", "id"], "id": ["id"]}, "-created_at")


class PredictionQuery(QuerySpec):
    consistent = Bool("Only predictions whose paths are (in)consistent with the taxonomy.")
    valid = Bool("Only (un)parseable answers.")
    split = Choice(("train", "dev", "test"), "Only documents of this split.")
    document = Int("Only the prediction for this document.")
    stage = Text(
        "Only predictions decided by this stage: one of the run's own stage names (the strategy, or for a "
        "cascade '1:tfidf', '2:llm-dl+crf', ... and 'review'); another value is refused with 400."
    )
    ordering = Ordering({"document": ["document_id"], "margin": ["margin", "id"], "id": ["id"]}, "document")


RunStarted = inline_serializer("RunStarted", {"run": RunSerializer(), "job": JobSerializer()})


def run_stages(run: Run) -> list[str]:
    """The stage names the run's predictions carry (the allow-list of ?stage=), sorted."""
    names = (
        Prediction.objects.filter(run=run)
        .exclude(stage="")
        .order_by("stage")
        .values_list("stage", flat=True)
        .distinct()
    )
    return sorted(names)


class RunListView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = RunSerializer

    @extend_schema(summary="Runs of the project, with their evaluations", responses=RunSerializer(many=True))
    @query(RunQuery)
    def get(self, request, project_id: int, query: RunQuery):
        qs = query.filter(run_list_for_project(project=self.project, state=query.state))
        return self.get_paginated_response(RunSerializer(self.paginate_queryset(qs), many=True).data)

    @extend_schema(
        summary="Start a run (annotator): a background job trains, predicts the split and evaluates",
        request=RunCreateSerializer,
        responses={202: RunStarted},
    )
    def post(self, request, project_id: int):
        data = RunCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        run, job = run_start(
            project=self.project,
            split=values["split"],
            actor=request.user,
            **{key: values[key] for key in ("strategy", "params", "shots", "seed", "name")},
            corrector=values["corrector"] or "",
        )
        run = run_list_for_project(project=self.project).get(pk=run.pk)
        job.refresh_from_db()
        body = {"run": RunSerializer(run).data, "job": self.job_data(job)}
        return Response(body, status=status.HTTP_202_ACCEPTED)


class RunDetailView(ProjectScopedView):
    serializer_class = RunSerializer

    @extend_schema(summary="One run")
    def get(self, request, project_id: int, run_id: int):
        return Response(RunSerializer(get_object_or_404(run_list_for_project(project=self.project), pk=run_id)).data)


class RunJobView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = RunJobSerializer

    @extend_schema(
        summary="Predict and/or evaluate a trained run on a split (annotator), as a background job",
        request=RunJobSerializer,
        responses={202: JobSerializer},
    )
    def post(self, request, project_id: int, run_id: int):
        run = get_object_or_404(Run, project=self.project, pk=run_id)
        data = RunJobSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = run_job_start(run=run, actor=request.user, **data.validated_data)
        job.refresh_from_db()
        return Response(self.job_data(job), status=202)


class PredictionListView(ProjectScopedView):
    serializer_class = PredictionSerializer

    @extend_schema(summary="A run's predictions", responses=PredictionSerializer(many=True))
    @query(PredictionQuery)
    def get(self, request, project_id: int, run_id: int, query: PredictionQuery):
        run = get_object_or_404(Run, project=self.project, pk=run_id)
        stages = run_stages(run)
        if query.stage and query.stage not in stages:
            known = f"Unknown stage {query.stage[:50]!r}; use one of {', '.join(stages)}."
            raise ValidationError({"stage": known if stages else "No prediction of this run names a stage."})
        qs = prediction_list(
            run=run,
            consistent=query.consistent,
            valid=query.valid,
            split=query.split,
            document=query.document,
            stage=query.stage,
        )
        page = self.paginate_queryset(query.filter(qs))
        tree = taxonomy_tree(taxonomy=self.project.taxonomy)
        return self.get_paginated_response(PredictionSerializer(page, many=True, context={"tree": tree}).data)


class PredictionDetailView(ProjectScopedView):
    serializer_class = PredictionSerializer

    @extend_schema(summary="One prediction")
    def get(self, request, project_id: int, run_id: int, prediction_id: int):
        prediction = get_object_or_404(
            Prediction.objects.select_related("document"), run__project=self.project, run_id=run_id, pk=prediction_id
        )
        tree = taxonomy_tree(taxonomy=self.project.taxonomy)
        return Response(PredictionSerializer(prediction, context={"tree": tree}).data)
