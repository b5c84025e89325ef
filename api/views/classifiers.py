"""Runs (start = create the run and queue its job; nothing trains in the request) and predictions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import status
from rest_framework.response import Response

from api.params import (
    bool_param,
    bool_parameter,
    choice_param,
    choice_parameter,
    int_param,
    int_parameter,
    ordering_from,
    ordering_parameter,
    text_parameter,
)
from api.serializers.classifiers import PredictionSerializer, RunCreateSerializer, RunJobSerializer, RunSerializer
from api.serializers.jobs import JobSerializer
from api.views.base import ProjectScopedView
from classifiers.models import Prediction, Run
from classifiers.selectors import prediction_list, run_list_for_project
from classifiers.services import run_job_start, run_start
from projects.models import Role
from taxonomies.selectors import taxonomy_tree

RUN_ORDERING = {"created_at": ["created_at", "id"], "name": ["name", "id"], "id": ["id"]}
PREDICTION_ORDERING = {
    "document": ["document_id"],
    "margin": ["margin", "id"],
    "id": ["id"],
}
RUN_STATES = [s.value for s in Run.State]
SPLITS = ("train", "dev", "test")

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

    @extend_schema(
        summary="Runs of the project, with their evaluations",
        parameters=[
            choice_parameter("state", RUN_STATES, "Only runs in this state."),
            ordering_parameter(RUN_ORDERING, "-created_at"),
        ],
        responses=RunSerializer(many=True),
    )
    def get(self, request, project_id: int):
        order = ordering_from(request, RUN_ORDERING, "-created_at")
        qs = run_list_for_project(project=self.project, state=choice_param(request, "state", RUN_STATES))
        return self.get_paginated_response(RunSerializer(self.paginate_queryset(qs.order_by(*order)), many=True).data)

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

    @extend_schema(
        summary="A run's predictions",
        parameters=[
            bool_parameter("consistent", "Only predictions whose paths are (in)consistent with the taxonomy."),
            bool_parameter("valid", "Only (un)parseable answers."),
            choice_parameter("split", SPLITS, "Only documents of this split."),
            int_parameter("document", "Only the prediction for this document."),
            text_parameter(
                "stage",
                "Only predictions decided by this stage: one of the run's own stage names (the strategy, or for a "
                "cascade '1:tfidf', '2:llm-dl+crf', ... and 'review'); another value is refused with 400.",
            ),
            ordering_parameter(PREDICTION_ORDERING, "document"),
        ],
        responses=PredictionSerializer(many=True),
    )
    def get(self, request, project_id: int, run_id: int):
        run = get_object_or_404(Run, project=self.project, pk=run_id)
        order = ordering_from(request, PREDICTION_ORDERING, "document")
        stages = run_stages(run)
        if request.query_params.get("stage") and not stages:
            raise ValidationError({"stage": "No prediction of this run names a stage."})
        qs = prediction_list(
            run=run,
            consistent=bool_param(request, "consistent"),
            valid=bool_param(request, "valid"),
            split=choice_param(request, "split", SPLITS),
            document=int_param(request, "document"),
            stage=choice_param(request, "stage", stages),
        )
        page = self.paginate_queryset(qs.order_by(*order))
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
