from django.urls import path

from classifiers import views

app_name = "classifiers"
urlpatterns = [
    path("", views.run_list, name="runs"),
    path("metrics/", views.metrics, name="metrics"),
    path("runs/<int:run_id>/", views.run_detail, name="run"),
    path("runs/<int:run_id>/jobs/", views.run_job, name="run_job"),
    path("runs/<int:run_id>/update/", views.run_update, name="run_update"),
    path("runs/<int:run_id>/predictions/", views.prediction_list, name="predictions"),
    path("runs/<int:run_id>/pseudo-labels/", views.pseudo_label_list, name="pseudo_labels"),
]
