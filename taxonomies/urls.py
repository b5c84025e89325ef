"""Taxonomy routes, mounted at /projects/<project_id>/taxonomy/."""

from django.urls import path

from taxonomies import views

app_name = "taxonomies"
urlpatterns = [
    path("", views.editor, name="editor"),
    path("nodes/add/", views.node_add, name="node_add"),
    path("nodes/<int:node_id>/rename/", views.node_rename, name="node_rename"),
    path("nodes/<int:node_id>/move/", views.node_move, name="node_move"),
    path("nodes/<int:node_id>/merge/", views.node_merge, name="node_merge"),
    path("nodes/<int:node_id>/delete/", views.node_delete, name="node_delete"),
    path("nodes/<int:node_id>/split/", views.node_split, name="node_split"),
    path("nodes/<int:node_id>/describe/", views.node_describe, name="node_describe"),
    path("enrich/", views.enrich_start, name="enrich"),
    path("examples/", views.examples_start, name="examples"),
    path("import/", views.taxonomy_import_view, name="import"),
    path("export/<str:fmt>/", views.taxonomy_export_view, name="export"),
    path("history/", views.history, name="history"),
]
