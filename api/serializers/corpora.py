from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import username_of
from corpora.models import Corpus, Document


class CorpusSerializer(serializers.ModelSerializer):
    document_count = serializers.IntegerField(read_only=True)
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Corpus
        fields = ["id", "name", "source_filename", "created_at", "created_by", "stats", "document_count"]
        read_only_fields = fields

    def get_created_by(self, obj: Corpus) -> str | None:
        return username_of(obj.created_by)


class CorpusUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, TSV, JSONL, TXT, or a zip of such files.")
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=255)
    add_missing_labels = serializers.BooleanField(required=False, default=False)
    test_fraction = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0, max_value=1)
    dev_fraction = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0, max_value=1)
    seed = serializers.IntegerField(required=False, default=0, min_value=0, max_value=2**31 - 1)
    split_map = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Further split names to read as train, dev or test: `train_subset=train, heldout=test`.",
    )

    def validate_split_map(self, value: str) -> dict[str, str]:
        from django.core.exceptions import ValidationError

        from corpora.services import parse_split_map

        try:
            return parse_split_map(value)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class DocumentSerializer(serializers.ModelSerializer):
    """A document with its gold paths (names, root first) and the ids of those paths."""

    gold_paths = serializers.SerializerMethodField()
    gold_path_ids = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id",
            "external_id",
            "corpus",
            "split",
            "length",
            "generated",
            "text",
            "meta",
            "gold_paths",
            "gold_path_ids",
        ]
        read_only_fields = fields

    def _ids(self, obj: Document) -> list[list[int]]:
        return self.context["gold_ids"].get(obj.pk, [])

    def get_gold_path_ids(self, obj: Document) -> list[list[int]]:
        return self._ids(obj)

    def get_gold_paths(self, obj: Document) -> list[list[str]]:
        tree = self.context["tree"]
        return [[tree.nodes[i].name for i in path] for path in self._ids(obj)]
