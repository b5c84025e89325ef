from __future__ import annotations

import json

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

    def validate_params(self, value: dict) -> dict:
        """Keys are identifiers (as KEY=VALUE on the run page); values are JSON the database can store."""
        for key in value:
            if not key.isidentifier():
                raise serializers.ValidationError(f"Parameter names are identifiers; got {key[:50]!r}.")
        problem = _unstorable_text(value)
        if problem:
            raise serializers.ValidationError(problem)
        if len(json.dumps(value)) > MAX_PARAMS_CHARS:
            raise serializers.ValidationError(f"Parameters are limited to {MAX_PARAMS_CHARS:,} characters of JSON.")
        return value


MAX_PARAMS_CHARS = 16_000


def _unstorable_text(value) -> str | None:
    """Why a JSON value cannot be stored as text (NUL or a lone surrogate in a string), or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "Parameters must not contain NUL characters."
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in item):
                return "Parameters must not contain unpaired surrogate characters."
    return None


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
