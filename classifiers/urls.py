from django.urls import path

from classifiers import views

app_name = "classifiers"
urlpatterns = [
    path("", views.run_list, name="runs"),
    path("metrics/", views.metrics, name="metrics"),
]
