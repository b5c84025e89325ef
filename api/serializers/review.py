from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import MAX_ID, username_of
from review.models import Correction


class CorrectionSerializer(serializers.ModelSerializer):
    annotator = serializers.SerializerMethodField()
    is_current = serializers.BooleanField(read_only=True)
    source = serializers.SerializerMethodField(help_text="annotator, adjudicated or undo.")

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
            "before_source",
            "gold_paths",
            "after_paths",
            "before_names",
            "after_names",
            "annotator",
            "source",
            "settles",
            "disagrees_with_gold",
            "test_split",
            "undoes",
            "seen_version",
            "superseded_by",
            "is_current",
            "taxonomy_version",
            "created_at",
        ]
        read_only_fields = fields

    def get_annotator(self, obj: Correction) -> str:
        return username_of(obj.annotator) or ""

    def get_source(self, obj: Correction) -> str:
        if obj.settles:
            return "adjudicated"
        return "undo" if obj.action == Correction.Action.UNDO else "annotator"


class CurrentLabelSerializer(serializers.Serializer):
    """A document's current label: adjudicated, else agreed annotators, else uploaded gold."""

    paths = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    source = serializers.CharField(help_text="adjudicated, annotators, uploaded, or empty (no label).")
    uploaded = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField()))
    decided_by = serializers.ListField(child=serializers.CharField())
    conflict = serializers.BooleanField()


class CorrectionCreatedSerializer(CorrectionSerializer):
    current_label = serializers.SerializerMethodField()

    class Meta(CorrectionSerializer.Meta):
        fields = [*CorrectionSerializer.Meta.fields, "current_label"]
        read_only_fields = fields

    def get_current_label(self, obj: Correction) -> dict:
        from review.labels import current_label

        return CurrentLabelSerializer(current_label(document=obj.document)).data


class _ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class DecisionConflictSerializer(serializers.Serializer):
    """409: someone decided on the document since `version`; nothing was saved. `latest` is that decision."""

    detail = serializers.CharField()
    errors = _ErrorItemSerializer(many=True)
    latest = CorrectionSerializer()


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
    action = serializers.ChoiceField(
        choices=[c for c in Correction.Action.choices if c[0] != Correction.Action.UNDO],
        help_text="accept, change or reject (undo has its own endpoint).",
    )
    paths = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID), max_length=64),
        required=False,
        default=list,
        max_length=64,
        help_text="For `change`: the decided paths as node ids, root first.",
    )
    settles = serializers.BooleanField(
        required=False, default=False, help_text="An owner's decision that settles a conflict (adjudicated)."
    )
    version = serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=0,
        max_value=MAX_ID,
        help_text="The document's review version you decided against (the id of its newest decision, 0 when none). "
        "When someone decided since, nothing is saved and the answer is 409 with that decision.",
    )

    def validate(self, attrs: dict) -> dict:
        if attrs["prediction"] is None and attrs["document"] is None:
            raise serializers.ValidationError({"document": "Give a prediction or a document."})
        return attrs
