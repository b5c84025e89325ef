from django.urls import path

from endpoints import views

app_name = "endpoints"
urlpatterns = [
    path("", views.endpoint_settings, name="settings"),
    path("reset/", views.endpoint_reset_view, name="reset"),
    path("test/", views.endpoint_test_view, name="test"),
]
