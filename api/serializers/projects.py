from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import username_of
from projects.models import Membership, Project, Role


class ProjectSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField(help_text="Your role in this project.")
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "multi_path",
            "allow_internal_labels",
            "created_at",
            "created_by",
            "role",
        ]
        read_only_fields = fields

    def get_role(self, obj: Project) -> str | None:
        return self.context.get("roles", {}).get(obj.pk)

    def get_created_by(self, obj: Project) -> str | None:
        return username_of(obj.created_by)


class ProjectCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=10000)
    multi_path = serializers.BooleanField(required=False, default=False)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = ["id", "username", "role", "created_at"]
        read_only_fields = fields

    def get_username(self, obj: Membership) -> str:
        return obj.user.get_username()


class MembershipSetSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Role.choices)
