from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import username_of
from classifiers.engine import registry
from classifiers.models import Evaluation, Prediction, Run
from classifiers.services import CORRECTORS


class EvaluationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Evaluation
        fields = ["split", "metrics", "document_count", "created_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    evaluations = EvaluationSerializer(many=True, read_only=True)
    prediction_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "name",
            "strategy",
            "params",
            "shots",
            "seed",
            "corrector",
            "state",
            "taxonomy_version",
            "train_seconds",
            "stats",
            "parent_run",
            "created_by",
            "created_at",
            "prediction_count",
            "evaluations",
        ]
        read_only_fields = fields

    def get_created_by(self, obj: Run) -> str | None:
        return username_of(obj.created_by)


RUN_SPLITS = ("test", "dev", "all")
JOB_SPLITS = ("test", "dev", "train", "all")
JOB_KINDS = ("predict", "evaluate", "pipeline")


class RunCreateSerializer(serializers.Serializer):
    """Start a run: it is created, then a background job trains it, predicts `split` and evaluates."""

    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    strategy = serializers.ChoiceField(choices=sorted(registry.STRATEGIES))
    params = serializers.DictField(required=False, default=dict, help_text="Strategy parameters (JSON values).")
    shots = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000)
    # numpy seeds the sampler (a negative seed would crash it); the column is a signed 32-bit integer.
    seed = serializers.IntegerField(required=False, default=550, min_value=0, max_value=2**31 - 1)
    corrector = serializers.ChoiceField(choices=list(CORRECTORS), required=False, default="")
    split = serializers.ChoiceField(choices=list(RUN_SPLITS), required=False, default="test")


class RunJobSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=list(JOB_KINDS))
    split = serializers.ChoiceField(choices=list(JOB_SPLITS), default="test")


class PredictionSerializer(serializers.ModelSerializer):
    document_external_id = serializers.CharField(source="document.external_id", read_only=True)
    path_names = serializers.SerializerMethodField(help_text="The predicted paths as names (None: deleted label).")

    class Meta:
        model = Prediction
        fields = [
            "id",
            "run",
            "document",
            "document_external_id",
            "paths",
            "path_names",
            "scores",
            "raw_paths",
            "consistent",
            "valid",
            "margin",
            "stage",
            "raw_output",
            "created_at",
        ]
        read_only_fields = fields

    def get_path_names(self, obj: Prediction) -> list[list[str | None]]:
        tree = self.context["tree"]
        return [[tree.nodes[i].name if i in tree.nodes else None for i in path] for path in obj.paths]
