"""Projects and members."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from api.params import Ordering, QuerySpec, query
from api.serializers.projects import (
    MembershipSerializer,
    MembershipSetSerializer,
    ProjectCreateSerializer,
    ProjectSerializer,
)
from api.views.base import ProjectScopedView
from projects.models import Membership, Role
from projects.selectors import project_list_for_user
from projects.services import membership_remove, membership_set, project_create


class ProjectQuery(QuerySpec):
    ordering = Ordering({"name": ["name", "id"], "created_at": ["created_at", "id"], "id": ["id"]}, "name")


class MemberQuery(QuerySpec):
    ordering = Ordering(
        {"username": ["user__username", "id"], "role": ["role", "user__username"], "id": ["id"]}, "username"
    )


class ProjectListView(GenericAPIView):
    serializer_class = ProjectSerializer

    @extend_schema(summary="Your projects", responses=ProjectSerializer(many=True))
    @query(ProjectQuery)
    def get(self, request, query: ProjectQuery):
        page = self.paginate_queryset(
            query.filter(project_list_for_user(user=request.user).select_related("created_by"))
        )
        roles = dict(Membership.objects.filter(user=request.user).values_list("project_id", "role"))
        return self.get_paginated_response(ProjectSerializer(page, many=True, context={"roles": roles}).data)

    @extend_schema(
        summary="Create a project (you become its owner)",
        request=ProjectCreateSerializer,
        responses={201: ProjectSerializer},
    )
    def post(self, request):
        data = ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(owner=request.user, **data.validated_data)
        body = ProjectSerializer(project, context={"roles": {project.pk: Role.OWNER}}).data
        return Response(body, status=status.HTTP_201_CREATED)


class ProjectDetailView(ProjectScopedView):
    serializer_class = ProjectSerializer

    @extend_schema(summary="One project")
    def get(self, request, project_id: int):
        return Response(
            ProjectSerializer(self.project, context={"roles": {self.project.pk: self.membership.role}}).data
        )


class MemberListView(ProjectScopedView):
    roles = {"POST": Role.OWNER}
    serializer_class = MembershipSerializer

    @extend_schema(summary="Members of a project", responses=MembershipSerializer(many=True))
    @query(MemberQuery)
    def get(self, request, project_id: int, query: MemberQuery):
        qs = query.filter(Membership.objects.filter(project=self.project).select_related("user"))
        return self.get_paginated_response(MembershipSerializer(self.paginate_queryset(qs), many=True).data)

    @extend_schema(
        summary="Add a member or change a member's role (owner)",
        request=MembershipSetSerializer,
        responses={200: MembershipSerializer},
    )
    def post(self, request, project_id: int):
        data = MembershipSetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = membership_set(project=self.project, actor=request.user, **data.validated_data)
        return Response(MembershipSerializer(membership).data)


class MemberDetailView(ProjectScopedView):
    roles = {"DELETE": Role.OWNER}
    serializer_class = MembershipSerializer

    @extend_schema(summary="One member")
    def get(self, request, project_id: int, membership_id: int):
        membership = get_object_or_404(
            Membership.objects.select_related("user"), project=self.project, pk=membership_id
        )
        return Response(MembershipSerializer(membership).data)

    @extend_schema(summary="Remove a member (owner; a project keeps at least one owner)", responses={204: None})
    def delete(self, request, project_id: int, membership_id: int):
        get_object_or_404(Membership, project=self.project, pk=membership_id)
        membership_remove(project=self.project, membership_id=membership_id, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
