from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import MAX_ID, username_of
from taxonomies.formats import available_formats
from taxonomies.models import Node, Taxonomy, TaxonomyChange
from taxonomies.transfer import MODES


class TaxonomySerializer(serializers.ModelSerializer):
    node_count = serializers.IntegerField(read_only=True)
    max_depth = serializers.IntegerField(read_only=True)
    formats = serializers.SerializerMethodField(help_text="Formats accepted by import and offered by export.")

    class Meta:
        model = Taxonomy
        fields = ["version", "updated_at", "node_count", "max_depth", "formats"]
        read_only_fields = fields

    def get_formats(self, obj: Taxonomy) -> list[str]:
        return [fmt.name for fmt in available_formats()]


class NodeSerializer(serializers.ModelSerializer):
    """A label. `path` is the root-to-label names, `path_ids` the same as ids (what corrections take)."""

    path = serializers.SerializerMethodField()
    path_ids = serializers.SerializerMethodField()
    is_leaf = serializers.SerializerMethodField()

    class Meta:
        model = Node
        fields = [
            "id",
            "name",
            "parent",
            "depth",
            "position",
            "description",
            "terms",
            "terms_source",
            "path",
            "path_ids",
            "is_leaf",
        ]
        read_only_fields = fields

    def _tree(self):
        return self.context["tree"]

    def get_path(self, obj: Node) -> list[str]:
        return self._tree().path_names(obj.pk) if obj.pk in self._tree().nodes else [obj.name]

    def get_path_ids(self, obj: Node) -> list[int]:
        return self._tree().path_ids(obj.pk) if obj.pk in self._tree().nodes else [obj.pk]

    def get_is_leaf(self, obj: Node) -> bool:
        return self._tree().is_leaf(obj.pk)


class NodeCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=255, trim_whitespace=False)
    parent = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=MAX_ID)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class NodeUpdateSerializer(serializers.Serializer):
    """Any of: a new name (rename), a description and/or terms."""

    name = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    terms = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True), required=False, max_length=200
    )


class NodeMoveSerializer(serializers.Serializer):
    parent = serializers.IntegerField(
        allow_null=True, min_value=1, max_value=MAX_ID, help_text="The new parent; null: the top level."
    )


class NodeMergeSerializer(serializers.Serializer):
    target = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="The label that receives the source's documents."
    )


class NodeDeleteResultSerializer(serializers.Serializer):
    deleted = serializers.IntegerField()
    documents_moved = serializers.IntegerField()


class TaxonomyImportSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="A .json, .csv or .txt taxonomy file (UTF-8).")
    mode = serializers.ChoiceField(choices=[(m, m) for m in MODES], default="merge")


class ImportSummarySerializer(serializers.Serializer):
    format = serializers.CharField()
    labels_in_file = serializers.IntegerField()
    created = serializers.IntegerField()
    reused = serializers.IntegerField()
    updated = serializers.IntegerField()
    deleted = serializers.IntegerField()
    version = serializers.IntegerField()


class TaxonomyChangeSerializer(serializers.ModelSerializer):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = TaxonomyChange
        fields = ["id", "version", "action", "details", "actor", "created_at"]
        read_only_fields = fields

    def get_actor(self, obj: TaxonomyChange) -> str | None:
        return username_of(obj.actor)
