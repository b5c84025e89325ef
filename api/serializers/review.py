from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import MAX_ID, username_of
from review.models import Correction


class CorrectionSerializer(serializers.ModelSerializer):
    annotator = serializers.SerializerMethodField()
    is_current = serializers.BooleanField(read_only=True)

    class Meta:
        model = Correction
        fields = [
            "id",
            "document",
            "prediction",
            "run",
            "strategy",
            "action",
            "predicted_paths",
            "predicted_scores",
            "before_paths",
            "after_paths",
            "before_names",
            "after_names",
            "annotator",
            "settles",
            "superseded_by",
            "is_current",
            "taxonomy_version",
            "created_at",
        ]
        read_only_fields = fields

    def get_annotator(self, obj: Correction) -> str:
        return username_of(obj.annotator) or ""


class CorrectionCreateSerializer(serializers.Serializer):
    """A review decision on a prediction (or directly on a document, for `change`)."""

    prediction = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID)
    document = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=MAX_ID,
        help_text="Needed when no prediction is given.",
    )
    action = serializers.ChoiceField(choices=Correction.Action.choices)
    paths = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=64),
        required=False,
        default=list,
        max_length=64,
        help_text="For `change`: the decided paths as node ids, root first.",
    )
    settles = serializers.BooleanField(
        required=False, default=False, help_text="An owner's decision that settles a conflict."
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["prediction"] is None and attrs["document"] is None:
            raise serializers.ValidationError({"document": "Give a prediction or a document."})
        return attrs
