"""The taxonomy: labels (create, rename, describe, move, merge, delete), import, export and history.

Reads need membership; every change needs the owner role, as in the editor. All writes go through
`taxonomies.services`, which keep documents consistent and record a version per change.
"""

from __future__ import annotations

from dataclasses import asdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from api.params import Bool, Choice, Int, Ordering, QuerySpec, Text, query
from api.serializers.taxonomies import (
    ImportSummarySerializer,
    NodeCreateSerializer,
    NodeDeleteResultSerializer,
    NodeMergeSerializer,
    NodeMoveSerializer,
    NodeSerializer,
    NodeUpdateSerializer,
    TaxonomyChangeSerializer,
    TaxonomyImportSerializer,
    TaxonomySerializer,
)
from api.views.base import ProjectScopedView
from projects.models import Role
from taxonomies import services, transfer
from taxonomies.formats import available_formats
from taxonomies.models import Node
from taxonomies.selectors import taxonomy_changes, taxonomy_tree


class NodeQuery(QuerySpec):
    parent = Int("Only the children of this label.", lookup="parent_id")
    top = Bool("true: only top-level labels.")
    depth = Int("Only labels at this depth (1 = top level).", lookup="depth")
    q = Text("Labels whose name contains this text (case-insensitive).", lookup="name__icontains")
    ordering = Ordering(
        {
            "position": ["position", "name", "id"],
            "name": ["name", "id"],
            "depth": ["depth", "position", "name", "id"],
            "id": ["id"],
        },
        "position",
    )


class NodeDeleteQuery(QuerySpec):
    reassign_to = Int("Move the documents of the deleted labels to this label.")
    cascade = Bool("Also delete the sub-labels.", default=False)


class ExportQuery(QuerySpec):
    format = Choice(
        lambda: [fmt.name for fmt in available_formats()], "The file format (default json).", default="json"
    )


class TaxonomyView(ProjectScopedView):
    serializer_class = TaxonomySerializer

    @extend_schema(summary="The project's taxonomy: version, size and formats")
    def get(self, request, project_id: int):
        taxonomy = self.project.taxonomy
        tree = taxonomy_tree(taxonomy=taxonomy)
        taxonomy.node_count = len(tree.nodes)
        taxonomy.max_depth = tree.max_depth()
        return Response(TaxonomySerializer(taxonomy).data)


def _node_of(project, node_id: int | None, field: str) -> Node | None:
    """A label of this project by id (None for None); a foreign or missing id is a 400 on `field`."""
    if node_id is None:
        return None
    node = Node.objects.filter(taxonomy__project=project, pk=node_id).first()
    if node is None:
        raise ValidationError({field: f"No label with id {node_id} in this taxonomy."})
    return node


class NodeListView(ProjectScopedView):
    roles = {"POST": Role.OWNER}
    serializer_class = NodeSerializer

    @extend_schema(summary="Labels of the taxonomy", responses=NodeSerializer(many=True))
    @query(NodeQuery)
    def get(self, request, project_id: int, query: NodeQuery):
        qs = query.filter(Node.objects.filter(taxonomy=self.project.taxonomy))
        if query.top:
            qs = qs.filter(parent__isnull=True)
        page = self.paginate_queryset(qs)
        tree = taxonomy_tree(taxonomy=self.project.taxonomy)
        return self.get_paginated_response(NodeSerializer(page, many=True, context={"tree": tree}).data)

    @extend_schema(summary="Add a label (owner)", request=NodeCreateSerializer, responses={201: NodeSerializer})
    def post(self, request, project_id: int):
        data = NodeCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            node = services.node_create(
                taxonomy=self.project.taxonomy,
                name=values["name"],
                parent=_node_of(self.project, values["parent"], "parent"),
                actor=request.user,
            )
            if values["description"]:
                node = services.node_update_description(
                    node=node, description=values["description"], terms=[], actor=request.user
                )
        return Response(_node_body(self.project, node), status=status.HTTP_201_CREATED)


def _node_body(project, node: Node) -> dict:
    node.refresh_from_db()
    return NodeSerializer(node, context={"tree": taxonomy_tree(taxonomy=project.taxonomy)}).data


class NodeView(ProjectScopedView):
    """Base for views on one label."""

    def node(self, node_id: int) -> Node:
        """The project's label with this id (404 otherwise)."""
        return get_object_or_404(Node, taxonomy__project=self.project, pk=node_id)

    def get_object(self) -> Node:
        """The URL's label (DRF's OPTIONS answer asks for it on views that take PUT)."""
        return self.node(self.kwargs["node_id"])


class NodeDetailView(NodeView):
    roles = {"PATCH": Role.OWNER, "DELETE": Role.OWNER}
    serializer_class = NodeSerializer

    @extend_schema(summary="One label")
    def get(self, request, project_id: int, node_id: int):
        return Response(_node_body(self.project, self.node(node_id)))

    @extend_schema(
        summary="Rename a label and/or set its description and terms (owner)",
        request=NodeUpdateSerializer,
        responses={200: NodeSerializer},
    )
    def patch(self, request, project_id: int, node_id: int):
        node = self.node(node_id)
        data = NodeUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            if "name" in values:
                node = services.node_rename(node=node, name=values["name"], actor=request.user)
            if "description" in values or "terms" in values:
                node = services.node_update_description(
                    node=node,
                    description=values.get("description", node.description),
                    terms=values.get("terms", node.terms),
                    actor=request.user,
                )
        return Response(_node_body(self.project, node))

    @extend_schema(
        summary="Delete a label (owner)",
        description="Refused when documents use the label or its sub-labels, unless `reassign_to` names a label "
        "outside the deleted subtree; sub-labels are deleted only with `cascade=true`.",
        responses={200: NodeDeleteResultSerializer},
    )
    @query(NodeDeleteQuery)
    def delete(self, request, project_id: int, node_id: int, query: NodeDeleteQuery):
        node = self.node(node_id)
        reassign_to = _node_of(self.project, query.reassign_to, "reassign_to")
        result = services.node_delete(
            node=node, actor=request.user, reassign_to=reassign_to, cascade_children=query.cascade
        )
        return Response(NodeDeleteResultSerializer(result).data)


class NodeMoveView(NodeView):
    roles = {"POST": Role.OWNER}
    serializer_class = NodeMoveSerializer

    @extend_schema(
        summary="Move a label with its subtree (owner)", request=NodeMoveSerializer, responses={200: NodeSerializer}
    )
    def post(self, request, project_id: int, node_id: int):
        node = self.node(node_id)
        data = NodeMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new_parent = _node_of(self.project, data.validated_data["parent"], "parent")
        node = services.node_move(node=node, new_parent=new_parent, actor=request.user)
        return Response(_node_body(self.project, node))


class NodeMergeView(NodeView):
    roles = {"POST": Role.OWNER}
    serializer_class = NodeMergeSerializer

    @extend_schema(
        summary="Merge a label into another (owner); returns the target",
        request=NodeMergeSerializer,
        responses={200: NodeSerializer},
    )
    def post(self, request, project_id: int, node_id: int):
        node = self.node(node_id)
        data = NodeMergeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        target = _node_of(self.project, data.validated_data["target"], "target")
        target = services.node_merge(source=node, target=target, actor=request.user)
        return Response(_node_body(self.project, target))


class TaxonomyImportView(ProjectScopedView):
    roles = {"POST": Role.OWNER}
    parser_classes = [MultiPartParser, FormParser]
    serializer_class = TaxonomyImportSerializer

    @extend_schema(
        summary="Import a taxonomy file (owner), all-or-nothing",
        description="Errors list every problem with its file and line, and nothing is written.",
        request={"multipart/form-data": TaxonomyImportSerializer},
        responses={200: ImportSummarySerializer},
    )
    def post(self, request, project_id: int):
        data = TaxonomyImportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = data.validated_data["file"]
        summary = transfer.taxonomy_import(
            taxonomy=self.project.taxonomy,
            file_name=upload.name,
            data=upload.read(),
            actor=request.user,
            mode=data.validated_data["mode"],
        )
        return Response(ImportSummarySerializer(asdict(summary)).data)


class TaxonomyExportView(ProjectScopedView):
    @extend_schema(
        summary="Export the taxonomy as a file",
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.ANY, description="A JSON tree"),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One path per line"),
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Indented text"),
        },
    )
    @query(ExportQuery)
    def get(self, request, project_id: int, query: ExportQuery):
        content, content_type, filename = transfer.taxonomy_export(taxonomy=self.project.taxonomy, fmt=query.format)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class TaxonomyChangeListView(ProjectScopedView):
    serializer_class = TaxonomyChangeSerializer

    @extend_schema(summary="The taxonomy's history, newest first", responses=TaxonomyChangeSerializer(many=True))
    def get(self, request, project_id: int):
        qs = taxonomy_changes(taxonomy=self.project.taxonomy)
        return self.get_paginated_response(TaxonomyChangeSerializer(self.paginate_queryset(qs), many=True).data)
