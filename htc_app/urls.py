"""URL map: every project-scoped route lives under /projects/<project_id>/."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("projects/", include("projects.urls")),
    path("projects/<int:project_id>/taxonomy/", include("taxonomies.urls")),
    path("projects/<int:project_id>/", include("corpora.urls")),
    path("projects/<int:project_id>/jobs/", include("jobs.urls")),
    path("projects/<int:project_id>/classifiers/", include("classifiers.urls")),
    path("projects/<int:project_id>/review/", include("review.urls")),
    path("projects/<int:project_id>/llm/", include("endpoints.urls")),
    path("api/", include("api.urls")),
]
