"""Jobs: list, one job (poll it for progress) and cancel."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from api.params import Choice, Ordering, QuerySpec, query
from api.serializers.jobs import JobSerializer
from api.views.base import ProjectScopedView
from jobs.models import Job
from jobs.registry import HANDLERS
from jobs.selectors import job_get, job_list_for_project
from jobs.services import job_can_cancel, job_cancel
from projects.models import Role


class JobQuery(QuerySpec):
    state = Choice([s.value for s in Job.State], "Only jobs in this state.")
    kind = Choice(lambda: sorted(HANDLERS), "Only jobs of this kind.", lookup="kind")
    ordering = Ordering(
        {"created_at": ["created_at", "id"], "id": ["id"], "state": ["state", "-created_at", "-id"]}, "-created_at"
    )


class JobListView(ProjectScopedView):
    serializer_class = JobSerializer

    @extend_schema(summary="Background jobs of the project", responses=JobSerializer(many=True))
    @query(JobQuery)
    def get(self, request, project_id: int, query: JobQuery):
        page = self.paginate_queryset(query.filter(job_list_for_project(project=self.project, state=query.state)))
        return self.get_paginated_response(self.job_data(page, many=True))


class JobDetailView(ProjectScopedView):
    serializer_class = JobSerializer

    @extend_schema(summary="One job, with its progress")
    def get(self, request, project_id: int, job_id: int):
        job = job_get(project=self.project, job_id=job_id)
        return Response(self.job_data(job))


class JobCancelView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = JobSerializer

    @extend_schema(
        summary="Cancel a job (owner: any job; annotator: your own)",
        description="A queued job is cancelled at once; a running one stops at its next progress step and keeps "
        "what it finished. 400 when the job already finished.",
        request=None,
        responses={200: JobSerializer},
    )
    def post(self, request, project_id: int, job_id: int):
        job = job_get(project=self.project, job_id=job_id)
        if not job_can_cancel(job=job, membership=self.membership):
            raise PermissionDenied("Only the project owner or the person who started a job may cancel it.")
        job = job_cancel(job=job, actor=request.user)
        return Response(self.job_data(job))
