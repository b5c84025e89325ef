from django.urls import path

from corpora import views

app_name = "corpora"
urlpatterns = [
    path("upload/", views.upload, name="upload"),
    path("documents/", views.document_list, name="documents"),
    path("documents/export/", views.document_export, name="export"),
    path("documents/<int:doc_id>/", views.document_detail, name="document"),
]
