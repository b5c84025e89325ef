from django.contrib import admin

from jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "project", "state", "progress_done", "progress_total", "attempt", "created_at"]
    list_filter = ["state", "kind"]
    search_fields = ["kind", "message", "error"]
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
