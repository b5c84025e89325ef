"""Taxonomy editor, import/export and history. Thin: check the role, validate, call a service, redirect.

Every page needs membership (404 otherwise); every change needs the owner role (403 otherwise).
Node actions are plain POST forms that redirect back to the editor with the result as a message.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from htc_app.bidi import isolate
from htc_app.params import id_param
from projects.models import Role
from projects.selectors import project_for_user
from review.tasks import split_task_ensure, split_task_for_node
from taxonomies import services, splitting, transfer
from taxonomies.formats import available_formats, extensions
from taxonomies.forms import (
    DeleteForm,
    DescriptionForm,
    EnrichForm,
    ExamplesForm,
    ImportForm,
    NameForm,
    SplitForm,
    TargetForm,
)
from taxonomies.models import Node, Taxonomy
from taxonomies.selectors import node_usage, path_labels, taxonomy_changes, taxonomy_tree, tree_rows

# Above this many labels the target pickers are text fields (with type-ahead) instead of selects.
SELECT_LIMIT = 1000
# Up to this many labels the whole tree renders expanded; above it, the top level and the selected
# label's path with their children (the search box finds the rest).
OPEN_ALL_LIMIT = 300


def _editor_url(project_id: int, node_id: int | None = None) -> str:
    url = reverse("taxonomies:editor", args=[project_id])
    return f"{url}?node={node_id}" if node_id else url


def _node(project, node_id: int) -> Node:
    return get_object_or_404(Node, pk=node_id, taxonomy__project=project)


def _resolve_target(taxonomy: Taxonomy, value: str) -> Node | None:
    """A label from a picker value: an id (select), '#id', or a path 'A > B > C'; None when empty."""
    value = (value or "").strip()
    if not value:
        return None
    key = value.removeprefix("#")
    if key.isascii() and key.isdigit():
        node_id = id_param(key)
        node = Node.objects.filter(taxonomy=taxonomy, pk=node_id).first() if node_id else None
    else:
        names = [part.strip() for part in value.split(">")]
        node_id = taxonomy_tree(taxonomy=taxonomy).find_path(names)
        node = Node.objects.filter(pk=node_id).first() if node_id else None
    if node is None:
        raise ValidationError(f"No label {value!r} in this taxonomy.")
    return node


def _report(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _owner_project(request: HttpRequest, project_id: int):
    return project_for_user(user=request.user, project_id=project_id, role=Role.OWNER)


@login_required
@require_GET
def editor(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    taxonomy = project.taxonomy
    tree = taxonomy_tree(taxonomy=taxonomy)
    labels = path_labels(tree=tree)
    selected = None
    node_param = id_param(request.GET.get("node"))
    if node_param in tree.nodes:
        selected = tree.nodes[node_param]
    open_ids = None
    if len(tree.nodes) > OPEN_ALL_LIMIT:
        open_ids = set(tree.path_ids(selected.pk)) if selected else set()
    context = {
        "project": project,
        "taxonomy": taxonomy,
        "rows": tree_rows(tree=tree, open_ids=open_ids),
        "node_count": len(tree.nodes),
        "can_edit": project.current_membership.has_role(Role.OWNER),
        "selected": selected,
        "picker_data": [[nid, labels[nid]] for nid in tree.preorder()],
        "use_select": len(tree.nodes) <= SELECT_LIMIT,
        "formats": available_formats(),
        **_coldstart_context(project),
    }
    if selected is not None:
        subtree = set(tree.descendant_ids(selected.pk))
        context.update(
            selected_path=tree.path_shown(selected.pk),
            usage=node_usage(node=selected),
            outside=[(nid, tree.path_shown(nid)) for nid in tree.preorder() if nid not in subtree]
            if context["use_select"]
            else [],
            terms_text=", ".join(selected.terms or []),
            split_task=split_task_for_node(node=selected),
            terms_source_label=TERM_SOURCES.get(selected.terms_source, selected.terms_source),
        )
    return render(request, "taxonomies/editor.html", context)


TERM_SOURCES = {
    "mined": "mined from the corpus",
    "llm": "suggested by the LLM",
    "mined+llm": "mined from the corpus and suggested by the LLM",
    "edited": "edited by a person",
}


def _coldstart_context(project) -> dict:
    from classifiers.coldstart import coldstart_latest_job

    return {
        "enrich_form": EnrichForm(),
        "examples_form": ExamplesForm(),
        "enrich_job": coldstart_latest_job(project=project, kind="taxonomy_enrich"),
        "examples_job": coldstart_latest_job(project=project, kind="examples_generate"),
    }


@login_required
@require_POST
def enrich_start(request: HttpRequest, project_id: int) -> HttpResponse:
    """Start the "Enrich taxonomy" job (owners): terms per label from the corpus and/or the LLM."""
    from classifiers.coldstart import taxonomy_enrich_start

    project = _owner_project(request, project_id)
    form = EnrichForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose where the terms come from and between 1 and 50 terms per label.")
        return redirect(_editor_url(project.pk))
    job = taxonomy_enrich_start(project=project, actor=request.user, **form.cleaned_data)
    messages.success(request, f"Enriching the taxonomy (job #{job.pk}); terms appear on each label when it is done.")
    return redirect(_editor_url(project.pk, id_param(request.POST.get("node"))))


@login_required
@require_POST
def examples_start(request: HttpRequest, project_id: int) -> HttpResponse:
    """Start the job that asks the LLM for example documents per leaf path (owners)."""
    from classifiers.coldstart import examples_generate_start

    project = _owner_project(request, project_id)
    form = ExamplesForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Ask for between 1 and 20 examples per leaf path.")
        return redirect(_editor_url(project.pk))
    job = examples_generate_start(project=project, actor=request.user, **form.cleaned_data)
    messages.success(request, f"Writing example documents with the LLM (job #{job.pk}).")
    return redirect(_editor_url(project.pk, id_param(request.POST.get("node"))))


@login_required
@require_POST
def node_add(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _owner_project(request, project_id)
    form = NameForm(request.POST)
    if not form.is_valid():
        # Say what is wrong with this name (too long, empty, a NUL character), not a generic rule.
        problems = [str(m) for m in form.errors.get("name", [])] or ["A label needs a name of at most 255 characters."]
        messages.error(request, "Label name: " + " ".join(problems))
        return redirect(_editor_url(project.pk))
    try:
        parent = _resolve_target(project.taxonomy, form.cleaned_data["parent"])
        node = services.node_create(
            taxonomy=project.taxonomy, name=form.cleaned_data["name"], parent=parent, actor=request.user
        )
    except ValidationError as exc:
        _report(request, exc)
        parent_id = form.cleaned_data["parent"]
        return redirect(_editor_url(project.pk, id_param(parent_id)))
    messages.success(request, f"Added {isolate(node.name)}.")
    if parent is not None:
        # Documents labelled the parent itself now need a decision: which child?
        task = split_task_ensure(node=parent, actor=request.user)
        if task is not None:
            _task_message(request, project, task)
    return redirect(_editor_url(project.pk, node.pk))


def _task_message(request: HttpRequest, project, task) -> None:
    count = len(task.document_ids)
    messages.info(
        request,
        f"{count} document{'s' if count != 1 else ''} labelled {isolate(task.node.name)} itself wait in a review task: "
        "which child? (linked beside the label)",
    )


def _node_action(request: HttpRequest, project_id: int, node_id: int, form_class, act) -> HttpResponse:
    """Run `act(project, node, cleaned_data) -> (message, node id to show)` for an owner; report errors as messages."""
    project = _owner_project(request, project_id)
    node = _node(project, node_id)
    form = form_class(request.POST)
    show: int | None = node.pk
    try:
        if not form.is_valid():
            raise ValidationError(
                [f"{form.fields[f].label}: {e}" if f in form.fields else e for f, es in form.errors.items() for e in es]
            )
        message, show = act(project, node, form.cleaned_data)
        messages.success(request, message)
    except ValidationError as exc:
        _report(request, exc)
    return redirect(_editor_url(project.pk, show))


@login_required
@require_POST
def node_rename(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        node = services.node_rename(node=node, name=data["name"], actor=request.user)
        return f"Renamed to {isolate(node.name)}.", node.pk

    return _node_action(request, project_id, node_id, NameForm, act)


@login_required
@require_POST
def node_move(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        new_parent = _resolve_target(project.taxonomy, data["target"])
        node = services.node_move(node=node, new_parent=new_parent, actor=request.user)
        return (
            f"Moved {isolate(node.name)} {f'under {isolate(new_parent.name)}' if new_parent else 'to the top level'}.",
            node.pk,
        )

    return _node_action(request, project_id, node_id, TargetForm, act)


@login_required
@require_POST
def node_merge(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        target = _resolve_target(project.taxonomy, data["target"])
        if target is None:
            raise ValidationError("Choose the label to merge into.")
        target = services.node_merge(source=node, target=target, actor=request.user)
        return f"Merged {isolate(node.name)} into {isolate(target.name)}.", target.pk

    return _node_action(request, project_id, node_id, TargetForm, act)


@login_required
@require_POST
def node_delete(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        reassign_to = _resolve_target(project.taxonomy, data["target"])
        result = services.node_delete(
            node=node, actor=request.user, reassign_to=reassign_to, cascade_children=data["cascade"]
        )
        moved = (
            f"; {result['documents_moved']} documents moved to {isolate(reassign_to.name)}"
            if result["documents_moved"]
            else ""
        )
        return f"Deleted {isolate(node.name)} ({result['deleted']} labels){moved}.", node.parent_id

    return _node_action(request, project_id, node_id, DeleteForm, act)


@login_required
@require_POST
def node_split(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        result = splitting.node_split(node=node, children=data["children"].splitlines(), actor=request.user)
        names = ", ".join(isolate(c.name) for c in result["children"])
        if result["task"] is not None:
            _task_message(request, project, result["task"])
        return f"Split {isolate(node.name)} into {names}.", node.pk

    return _node_action(request, project_id, node_id, SplitForm, act)


@login_required
@require_POST
def node_describe(request: HttpRequest, project_id: int, node_id: int) -> HttpResponse:
    def act(project, node, data):
        services.node_update_description(
            node=node, description=data["description"], terms=data["terms"], actor=request.user
        )
        return f"Saved the description of {isolate(node.name)}.", node.pk

    return _node_action(request, project_id, node_id, DescriptionForm, act)


@login_required
def taxonomy_import_view(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _owner_project(request, project_id)
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    status = 200
    if getattr(request, "upload_too_large", False):
        form = ImportForm()
        errors = [f"The file is larger than the upload limit ({settings.HTC_MAX_UPLOAD_BYTES / 2**20:,.0f} MB)."]
        status = 413
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            summary = transfer.taxonomy_import(
                taxonomy=project.taxonomy,
                file_name=upload.name,
                data=upload.read(),
                actor=request.user,
                mode=form.cleaned_data["mode"],
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(
                request,
                f"Imported {isolate(upload.name)}: {summary.created} new labels, {summary.reused} already there"
                f"{f', {summary.deleted} deleted' if summary.deleted else ''} (version {summary.version}).",
            )
            return redirect(_editor_url(project.pk))
    return render(
        request,
        "taxonomies/import.html",
        {
            "project": project,
            "form": form,
            "errors": errors,
            "accept": ",".join(extensions()),
            "max_depth": settings.HTC_MAX_TAXONOMY_DEPTH,
            "max_nodes": settings.HTC_MAX_TAXONOMY_NODES,
        },
        status=status,
    )


@login_required
@require_GET
def taxonomy_export_view(request: HttpRequest, project_id: int, fmt: str) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    try:
        content, content_type, filename = transfer.taxonomy_export(taxonomy=project.taxonomy, fmt=fmt)
    except ValidationError as exc:
        raise Http404("Unknown format") from exc
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def history(request: HttpRequest, project_id: int) -> HttpResponse:
    project = project_for_user(user=request.user, project_id=project_id)
    from taxonomies.history import change_summaries, node_ids_in
    from taxonomies.models import Node

    page = Paginator(taxonomy_changes(taxonomy=project.taxonomy), 50).get_page(request.GET.get("page"))
    changes = list(page.object_list)
    nodes = Node.objects.filter(taxonomy=project.taxonomy, pk__in=node_ids_in(changes))
    names = {node.pk: node.name for node in nodes}
    rows = list(zip(changes, change_summaries(changes, names), strict=True))
    return render(request, "taxonomies/history.html", {"project": project, "page": page, "rows": rows})
