"""URL map: every project-scoped route lives under /projects/<project_id>/."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from htc_app.forms import ThrottledAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    # Sign-in is throttled per account and per address (htc_app/signin.py); the other auth views are Django's.
    path(
        "accounts/login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm), name="login"
    ),
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

# Uncaught errors: a full or read-only disk answers 507/503 in words; under /api/ in the API's JSON error shape.
handler500 = "htc_app.errors.server_error"
handler400 = "htc_app.errors.bad_request"  # e.g. too many fields: JSON under /api/, like every API error
handler403 = "htc_app.errors.permission_denied"
handler404 = "htc_app.errors.page_not_found"
