from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import username_of
from jobs.models import Job


class JobSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    percent = serializers.IntegerField(read_only=True)
    elapsed_seconds = serializers.FloatField(read_only=True)
    can_cancel = serializers.SerializerMethodField(help_text="Whether you may cancel this job now.")

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "state",
            "params",
            "result",
            "progress_done",
            "progress_total",
            "percent",
            "message",
            "error",
            "partial",
            "attempt",
            "max_attempts",
            "queue",
            "worker",
            "device",
            "cancel_requested",
            "target_type",
            "target_id",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
            "elapsed_seconds",
            "can_cancel",
        ]
        read_only_fields = fields

    def get_created_by(self, obj: Job) -> str | None:
        return username_of(obj.created_by)

    def get_can_cancel(self, obj: Job) -> bool:
        from jobs.services import job_can_cancel

        membership = self.context.get("membership")
        return obj.is_active and job_can_cancel(job=obj, membership=membership)
