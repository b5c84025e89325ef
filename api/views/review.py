"""Corrections (review decisions with provenance), undo, and retraining with the corrections."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.exceptions import error_body
from api.params import Bool, Int, Ordering, QuerySpec, query
from api.serializers.classifiers import RunSerializer
from api.serializers.review import (
    CorrectionCreatedSerializer,
    CorrectionCreateSerializer,
    CorrectionSerializer,
    DecisionConflictSerializer,
)
from api.views.base import ProjectScopedView
from api.views.classifiers import RunStarted
from classifiers.models import Prediction, Run
from classifiers.selectors import run_list_for_project
from corpora.models import Document
from projects.models import Role
from projects.selectors import project_for_user
from review.models import Correction
from review.services import DecisionConflict, correction_record, correction_undo, run_retrain_with_corrections


class CorrectionQuery(QuerySpec):
    document = Int("Only decisions on this document.", lookup="document_id")
    run = Int("Only decisions on predictions of this run.", lookup="run_id")
    current = Bool("true: only decisions not superseded; false: only superseded ones.", lookup="superseded_by__isnull")
    mine = Bool("true: only your decisions.")
    ordering = Ordering(
        {"created_at": ["created_at", "id"], "document": ["document_id", "id"], "id": ["id"]}, "-created_at"
    )


def _corrections(project):
    return Correction.objects.filter(project=project).select_related("annotator")


class CorrectionListView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = CorrectionSerializer

    @extend_schema(
        summary="Review decisions of the project (superseded ones too, unless current=true)",
        responses=CorrectionSerializer(many=True),
    )
    @query(CorrectionQuery)
    def get(self, request, project_id: int, query: CorrectionQuery):
        qs = query.filter(_corrections(self.project))
        if query.mine:
            qs = qs.filter(annotator=request.user)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(CorrectionSerializer(page, many=True).data)

    @extend_schema(
        summary="Record a review decision (annotator; `settles` needs the owner role)",
        description="accept: the prediction's paths become the decision; change: `paths` (node ids, root first) "
        "become it; reject: the prediction is wrong, the current label is left as it is. Your earlier decision on "
        "the document is superseded, never changed; the uploaded gold is never changed. The answer includes the "
        "document's current label (adjudicated, else agreed annotators, else uploaded gold). With `version`, a "
        "decision made by anyone since that version answers 409 and saves nothing.",
        request=CorrectionCreateSerializer,
        responses={201: CorrectionCreatedSerializer, 409: DecisionConflictSerializer},
    )
    def post(self, request, project_id: int):
        data = CorrectionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        project = self.project
        if values["settles"]:
            project = project_for_user(user=request.user, project_id=project.pk, role=Role.OWNER)
        prediction = None
        if values["prediction"] is not None:
            prediction = (
                Prediction.objects.select_related("document", "run")
                .filter(run__project=project, pk=values["prediction"])
                .first()
            )
            if prediction is None:
                raise ValidationError({"prediction": f"No prediction with id {values['prediction']} in this project."})
        if values["document"] is not None:
            document = Document.objects.filter(project=project, pk=values["document"]).first()
            if document is None:
                raise ValidationError({"document": f"No document with id {values['document']} in this project."})
        else:
            document = prediction.document
        try:
            correction = correction_record(
                project=project,
                document=document,
                annotator=request.user,
                action=values["action"],
                after_paths=values["paths"],
                prediction=prediction,
                settles=values["settles"],
                seen_version=values["version"],
            )
        except DecisionConflict as exc:
            body = error_body([{"field": "version", "message": exc.messages[0]}])
            body["latest"] = CorrectionSerializer(exc.latest).data
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(CorrectionCreatedSerializer(correction).data, status=status.HTTP_201_CREATED)


class CorrectionDetailView(ProjectScopedView):
    serializer_class = CorrectionSerializer

    @extend_schema(summary="One review decision")
    def get(self, request, project_id: int, correction_id: int):
        return Response(CorrectionSerializer(get_object_or_404(_corrections(self.project), pk=correction_id)).data)


class CorrectionUndoView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = CorrectionSerializer

    @extend_schema(
        summary="Undo your own latest decision on a document (annotator): a new decision of action `undo` withdraws "
        "it and restores your previous one on that document, if any",
        request=None,
        responses={201: CorrectionSerializer},
    )
    def post(self, request, project_id: int, correction_id: int):
        correction = get_object_or_404(_corrections(self.project), pk=correction_id)
        undo = correction_undo(correction=correction, actor=request.user)
        return Response(CorrectionSerializer(undo).data, status=status.HTTP_201_CREATED)


class RunRetrainView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = RunSerializer

    @extend_schema(
        summary="Retrain a run with the agreed corrections (annotator), as a background job",
        request=None,
        responses={202: RunStarted},
    )
    def post(self, request, project_id: int, run_id: int):
        run = get_object_or_404(Run, project=self.project, pk=run_id)
        new_run, job = run_retrain_with_corrections(run=run, actor=request.user)
        job.refresh_from_db()
        body = {
            "run": RunSerializer(run_list_for_project(project=self.project).get(pk=new_run.pk)).data,
            "job": self.job_data(job),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)
