from django.contrib import admin

from htc_app.templatetags.bidi import bdi
from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "project_name", "state", "progress_done", "progress_total", "attempt", "created_at"]
    list_select_related = ["project"]
    list_filter = ["state", "kind"]
    search_fields = ["kind", "message", "error"]
    readonly_fields = [f.name for f in Job._meta.fields]

    @admin.display(description="project", ordering="project__name")
    def project_name(self, job: Job) -> str:
        return bdi(job.project.name if job.project_id else "")  # user text, bidi-isolated as on every page

    def has_add_permission(self, request) -> bool:
        return False
