"""Corpora (upload = the UI's import pipeline) and documents (filtered lists with gold paths)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from api.params import Bool, Choice, Int, Ordering, QuerySpec, Text, query
from api.serializers.corpora import CorpusSerializer, CorpusUploadSerializer, DocumentSerializer
from api.serializers.jobs import JobSerializer
from api.views.base import ProjectScopedView
from corpora.models import Corpus, Document, GoldLabel
from corpora.selectors import documents_filtered, node_of_project
from corpora.services import corpus_import, corpus_import_enqueue
from projects.models import Role
from taxonomies.selectors import taxonomy_tree


class CorpusQuery(QuerySpec):
    ordering = Ordering({"created_at": ["created_at", "id"], "name": ["name", "id"], "id": ["id"]}, "-created_at")


class DocumentQuery(QuerySpec):
    q = Text("Words (any order, case ignored) that each start a word of the text or id.")
    split = Choice(("train", "dev", "test", "none"), "Only this split (none: unassigned).")
    node = Int("Only documents with a gold path through this label.")
    corpus = Int("Only documents of this corpus.", lookup="corpus_id")
    generated = Bool("true: only LLM-written examples; false: only real documents.", lookup="generated")
    ordering = Ordering({"id": ["id"], "external_id": ["external_id", "id"], "length": ["length", "id"]}, "id")


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is larger than the upload limit."
    default_code = "upload_too_large"


class CorpusListView(ProjectScopedView):
    roles = {"POST": Role.ANNOTATOR}
    serializer_class = CorpusSerializer
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Corpora of the project", responses=CorpusSerializer(many=True))
    @query(CorpusQuery)
    def get(self, request, project_id: int, query: CorpusQuery):
        qs = Corpus.objects.filter(project=self.project).select_related("created_by")
        qs = query.filter(qs.annotate(document_count=Count("documents")))
        return self.get_paginated_response(CorpusSerializer(self.paginate_queryset(qs), many=True).data)

    @extend_schema(
        summary="Upload a corpus file (annotator), all-or-nothing",
        description="Small files are imported in the request (201, the corpus). Files above HTC_INLINE_IMPORT_BYTES "
        "are imported by a background job (202, the job; poll /jobs/{id}/). Errors list every problem with its "
        "file, line and field, and nothing is written.",
        request={"multipart/form-data": CorpusUploadSerializer},
        responses={
            201: CorpusSerializer,
            202: OpenApiResponse(JobSerializer, description="Queued as a background import"),
        },
    )
    def post(self, request, project_id: int):
        data = CorpusUploadSerializer(data=request.data)
        valid = data.is_valid()
        if getattr(request._request, "upload_too_large", False):
            raise UploadTooLarge(f"The file is larger than the upload limit ({settings.HTC_MAX_UPLOAD_BYTES:,} bytes).")
        if not valid:
            raise serializers.ValidationError(data.errors)
        values = dict(data.validated_data)
        upload = values.pop("file")
        if upload.size > settings.HTC_INLINE_IMPORT_BYTES:
            job = corpus_import_enqueue(project=self.project, upload=upload, actor=request.user, **values)
            body = self.job_data(job)
            return Response(body, status=status.HTTP_202_ACCEPTED)
        corpus = corpus_import(
            project=self.project, file_name=upload.name, fileobj=upload, actor=request.user, **values
        )
        corpus.document_count = corpus.documents.count()
        return Response(CorpusSerializer(corpus).data, status=status.HTTP_201_CREATED)


class CorpusDetailView(ProjectScopedView):
    serializer_class = CorpusSerializer

    @extend_schema(summary="One corpus")
    def get(self, request, project_id: int, corpus_id: int):
        qs = Corpus.objects.select_related("created_by").annotate(document_count=Count("documents"))
        return Response(CorpusSerializer(get_object_or_404(qs, project=self.project, pk=corpus_id)).data)


def _document_context(project, documents: list[Document]) -> dict:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    gold: dict[int, list[list[int]]] = {}
    pairs = GoldLabel.objects.filter(document_id__in=[d.pk for d in documents]).order_by("id")
    for doc_id, node_id in pairs.values_list("document_id", "node_id"):
        if node_id in tree.nodes:
            gold.setdefault(doc_id, []).append(tree.path_ids(node_id))
    return {"tree": tree, "gold_ids": gold}


class DocumentListView(ProjectScopedView):
    serializer_class = DocumentSerializer

    @extend_schema(summary="Documents of the project, with their gold paths", responses=DocumentSerializer(many=True))
    @query(DocumentQuery)
    def get(self, request, project_id: int, query: DocumentQuery):
        node = node_of_project(project=self.project, node_id=query.node) if query.node else None
        qs = documents_filtered(project=self.project, q=query.q, node=node, split=query.split)
        if query.node and node is None:
            qs = qs.none()  # a label of another project matches nothing here
        page = self.paginate_queryset(query.filter(qs))
        body = DocumentSerializer(page, many=True, context=_document_context(self.project, page)).data
        return self.get_paginated_response(body)


class DocumentDetailView(ProjectScopedView):
    serializer_class = DocumentSerializer

    @extend_schema(summary="One document")
    def get(self, request, project_id: int, document_id: int):
        document = get_object_or_404(Document, project=self.project, pk=document_id)
        return Response(DocumentSerializer(document, context=_document_context(self.project, [document])).data)
