"""Cold start (terms, enrichment and example jobs, pseudo-labels) and growth (split, review tasks, run update)."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import MAX_ID, username_of
from classifiers.models import PseudoLabel
from review.models import ReviewTask
from taxonomies.splitting import MAX_SPLIT_CHILDREN

TERM_SOURCES = ("corpus", "both", "llm")  # as the editor's "Terms from" choice


class NodeTermsSerializer(serializers.Serializer):
    """A label's class-indicative terms and where they came from ("edited": a person; "mined"/"llm": enrichment)."""

    node = serializers.IntegerField(source="pk", read_only=True)
    terms = serializers.ListField(child=serializers.CharField(), read_only=True)
    terms_source = serializers.CharField(read_only=True)


class NodeTermsUpdateSerializer(serializers.Serializer):
    terms = serializers.ListField(
        child=serializers.CharField(max_length=100, allow_blank=True),
        max_length=200,
        help_text="The new terms (duplicates and blanks are dropped); [] clears them.",
    )


class NodeSplitSerializer(serializers.Serializer):
    children = serializers.ListField(
        child=serializers.CharField(max_length=255, allow_blank=True, trim_whitespace=False),
        max_length=MAX_SPLIT_CHILDREN,
        help_text="Names of the new child labels (new among the label's children).",
    )


class EnrichStartSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=list(TERM_SOURCES), default="corpus", help_text="Where terms come from.")
    top_k = serializers.IntegerField(min_value=1, max_value=50, default=8, help_text="Terms per label.")
    replace_edited = serializers.BooleanField(default=False, help_text="Also replace terms a person gave.")


class ExamplesStartSerializer(serializers.Serializer):
    per_leaf = serializers.IntegerField(min_value=1, max_value=20, default=3, help_text="Examples per leaf path.")


class PseudoLabelSerializer(serializers.ModelSerializer):
    document_external_id = serializers.CharField(source="document.external_id", read_only=True)
    document_generated = serializers.BooleanField(source="document.generated", read_only=True)
    path_names = serializers.SerializerMethodField(help_text="The path as names (None: deleted label).")

    class Meta:
        model = PseudoLabel
        fields = ["id", "document", "document_external_id", "document_generated", "path", "path_names", "confidence"]
        read_only_fields = fields

    def get_path_names(self, obj: PseudoLabel) -> list[str | None]:
        tree = self.context["tree"]
        return [tree.nodes[i].name if i in tree.nodes else None for i in obj.path]


class ReviewTaskSerializer(serializers.ModelSerializer):
    """A "which child?" task: documents labelled `node` itself when it got children."""

    kind = serializers.CharField(read_only=True, help_text="split: the question is “which child?”.")
    node_path = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField(help_text="Documents in the task.")
    remaining = serializers.SerializerMethodField(help_text="Documents still labelled the node itself.")
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ReviewTask
        fields = [
            "id",
            "kind",
            "node",
            "node_path",
            "total",
            "remaining",
            "taxonomy_version",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_node_path(self, obj: ReviewTask) -> list[str]:
        tree = self.context["tree"]
        return tree.path_names(obj.node_id) if obj.node_id in tree.nodes else []

    def get_total(self, obj: ReviewTask) -> int:
        return len(obj.document_ids)

    def get_remaining(self, obj: ReviewTask) -> int:
        return len(self.context["remaining"][obj.pk])

    def get_created_by(self, obj: ReviewTask) -> str | None:
        return username_of(obj.created_by)


class ReviewTaskDetailSerializer(ReviewTaskSerializer):
    document_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    remaining_document_ids = serializers.SerializerMethodField(help_text="The documents still to decide.")
    choices = serializers.SerializerMethodField(help_text="Labels a document may move to (ids, below the node).")
    next_document = serializers.SerializerMethodField(
        help_text="The first remaining document you have not decided yet (null: none)."
    )

    class Meta(ReviewTaskSerializer.Meta):
        fields = [
            *ReviewTaskSerializer.Meta.fields,
            "document_ids",
            "remaining_document_ids",
            "choices",
            "next_document",
        ]
        read_only_fields = fields

    def get_remaining_document_ids(self, obj: ReviewTask) -> list[int]:
        return self.context["remaining"][obj.pk]

    def get_choices(self, obj: ReviewTask) -> list[int]:
        return self.context["choices"]

    def get_next_document(self, obj: ReviewTask) -> int | None:
        return self.context["next_document"]


class ReviewTaskDecideSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    path = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        max_length=64,
        help_text="The chosen label's path as node ids, root first; it must end below the task's label.",
    )


class RunUpdateSerializer(serializers.Serializer):
    """Update a trained run for the labels added since (a child run; the job kind is update_labels)."""

    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    rehearsal = serializers.FloatField(
        min_value=0.0, max_value=1.0, default=0.3, help_text="Share of the old training documents replayed."
    )
    epochs = serializers.IntegerField(min_value=1, max_value=50, default=2, help_text="HierVerb fine-tuning epochs.")
