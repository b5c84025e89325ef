from django.urls import path

from review import task_views, views

app_name = "review"
urlpatterns = [
    path("", views.review_index, name="index"),
    path("runs/<int:run_id>/", views.review_queue_view, name="queue"),
    path("runs/<int:run_id>/next/", views.review_next, name="next"),
    path("runs/<int:run_id>/retrain/", views.review_retrain, name="retrain"),
    path("runs/<int:run_id>/train-split/", views.review_training_documents, name="train_split"),
    path("runs/<int:run_id>/items/<int:prediction_id>/", views.review_item, name="item"),
    path("corrections/<int:correction_id>/undo/", views.review_undo, name="undo"),
    path("tasks/<int:task_id>/", task_views.task_detail, name="task"),
    path("tasks/<int:task_id>/next/", task_views.task_next, name="task_next"),
    path("tasks/<int:task_id>/documents/<int:document_id>/", task_views.task_item, name="task_item"),
    path("agreement/", views.agreement_view, name="agreement"),
    path("documents/<int:document_id>/adjudicate/", views.adjudicate, name="adjudicate"),
    path("export/<str:what>.<str:fmt>", views.review_export, name="export"),
]
