"""Upload, document list, document page and export. Thin: check the role, validate, call a service, render."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from corpora.formats import WRITERS
from corpora.forms import UploadForm
from corpora.models import Corpus, Split
from corpora.selectors import document_get, document_page, node_of_project
from corpora.services import corpus_import, corpus_import_enqueue
from htc_app.bidi import isolate
from htc_app.params import id_param, page_param, text_param
from projects.models import Role
from projects.selectors import project_for_user
from taxonomies.selectors import taxonomy_tree

NODE_SELECT_LIMIT = 2000
SPLIT_FILTERS = [
    (Split.TRAIN.value, "Train"),
    (Split.DEV.value, "Dev"),
    (Split.TEST.value, "Test"),
    ("none", "Unassigned"),
]


def _upload_context(project, form, **extra) -> dict:
    return {
        "project": project,
        "form": form,
        "inline_limit": settings.HTC_INLINE_IMPORT_BYTES,
        "upload_limit": settings.HTC_MAX_UPLOAD_BYTES,
        **extra,
    }


@login_required
def upload(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id, role=Role.ANNOTATOR)
    if request.method != "POST":
        imported_id = id_param(request.GET.get("imported"))
        imported = Corpus.objects.filter(project=project, pk=imported_id).first() if imported_id else None
        return render(request, "corpora/upload.html", _upload_context(project, UploadForm(), imported=imported))
    form = UploadForm(request.POST, request.FILES)
    if getattr(request, "upload_too_large", False):
        limit_mb = settings.HTC_MAX_UPLOAD_BYTES / (1024 * 1024)
        ctx = _upload_context(
            project, UploadForm(), errors=[f"The file is larger than the upload limit ({limit_mb:,.0f} MB)."]
        )
        return render(request, "corpora/upload.html", ctx, status=413)
    if not form.is_valid():
        return render(request, "corpora/upload.html", _upload_context(project, form), status=400)
    data = form.cleaned_data
    upload_file = data["file"]
    options = {
        "add_missing_labels": data["add_missing_labels"],
        "split_map": data["split_map"] or None,
        "test_fraction": data["test_fraction"],
        "dev_fraction": data["dev_fraction"],
        "seed": data["seed"] or 0,
        "name": data["name"],
    }
    try:
        if upload_file.size > settings.HTC_INLINE_IMPORT_BYTES:
            job = corpus_import_enqueue(project=project, upload=upload_file, actor=request.user, **options)
            messages.info(request, "The file is large: it is being imported in the background.")
            return redirect("jobs:detail", project_id=project.pk, job_id=job.pk)
        corpus = corpus_import(
            project=project, file_name=upload_file.name, fileobj=upload_file, actor=request.user, **options
        )
    except ValidationError as exc:
        ctx = _upload_context(project, form, errors=exc.messages, file_name=upload_file.name)
        return render(request, "corpora/upload.html", ctx, status=400)
    messages.success(
        request, f"Imported {corpus.stats.get('documents', 0):,} documents into corpus {isolate(corpus.name)}."
    )
    return redirect(f"{reverse('corpora:upload', args=[project.pk])}?imported={corpus.pk}")


def _list_filters(request: HttpRequest, project) -> dict:
    q = text_param(request.GET.get("q"), 200)
    split = request.GET.get("split") or None
    if split not in {value for value, _ in SPLIT_FILTERS}:
        split = None
    node = node_of_project(project=project, node_id=request.GET.get("node"))
    generated = {"yes": True, "no": False}.get(request.GET.get("generated", ""))
    page = page_param(request.GET.get("page"))
    after, before = id_param(request.GET.get("after")), id_param(request.GET.get("before"))
    return {
        "q": q,
        "split": split,
        "node": node,
        "generated": generated,
        "page": page,
        "after": after,
        "before": before,
    }


@login_required
@require_GET
def document_list(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    filters = _list_filters(request, project)
    page = document_page(project=project, **filters)
    query = {k: v for k, v in {"q": filters["q"], "split": filters["split"] or ""}.items() if v}
    if filters["generated"] is not None:
        query["generated"] = "yes" if filters["generated"] else "no"
    if filters["node"] is not None:
        query["node"] = filters["node"].pk
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    node_options = None
    if len(tree.nodes) <= NODE_SELECT_LIMIT:
        node_options = [(nid, tree.depth(nid), tree.path_shown(nid)) for nid in tree.preorder()]
    export_query = {"node": filters["node"].pk} if filters["node"] is not None else {}
    context = {
        "project": project,
        "page": page,
        "filters": filters,
        "node_names": tree.path_names(filters["node"].pk) if filters["node"] is not None else [],
        "node_options": node_options,
        "split_filters": SPLIT_FILTERS,
        "query": urlencode(query),
        "export_csv": urlencode({"format": "csv", **export_query}),
        "export_jsonl": urlencode({"format": "jsonl", **export_query}),
        "can_upload": project.current_membership.has_role(Role.ANNOTATOR),
    }
    return render(request, "corpora/documents.html", context)


@login_required
@require_GET
def document_detail(request: HttpRequest, project_id: int, doc_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    document, paths = document_get(project=project, doc_id=doc_id)
    from classifiers.selectors import document_predictions, document_pseudo_labels
    from review.labels import current_label
    from review.selectors import document_history
    from taxonomies.selectors import taxonomy_tree

    tree = taxonomy_tree(taxonomy=project.taxonomy)
    label = current_label(document=document, tree=tree)
    context = {
        "project": project,
        "document": document,
        "paths": paths,
        "current_label": label,
        "current_texts": [tree.path_shown(p[-1]) if p[-1] in tree.nodes else "?" for p in label.paths],
        "predictions": document_predictions(document=document),
        "pseudo_labels": document_pseudo_labels(document=document),
        "decisions": document_history(document=document)[:50],
    }
    return render(request, "corpora/document.html", context)


@login_required
@require_GET
def document_export(request: HttpRequest, project_id: int) -> StreamingHttpResponse:
    from corpora.services import documents_export

    project = project_for_user(user=request.user, project_id=project_id)
    fmt = request.GET.get("format", "csv")
    if fmt not in WRITERS:
        raise Http404("Unknown export format")
    node = None
    if request.GET.get("node"):
        node = node_of_project(project=project, node_id=request.GET.get("node"))
        if node is None:
            raise Http404("No such label in this project")
    spec = WRITERS[fmt]
    response = StreamingHttpResponse(
        documents_export(project=project, fmt=fmt, node=node), content_type=spec.content_type
    )
    suffix = f"-node-{node.pk}" if node is not None else ""
    response["Content-Disposition"] = f'attachment; filename="project-{project.pk}-documents{suffix}.{spec.extension}"'
    return response
