"""Corrections: every review decision, with provenance. Nothing is overwritten.

Labels have three sources, each kept in its own table:

- **uploaded gold**: `corpora.GoldLabel`, written by the import (and by taxonomy edits that move labels);
  review never writes it;
- **annotator decisions**: `Correction` rows here (who, when, the label before and after, the uploaded gold at
  that moment, which run's prediction was on screen);
- **adjudicated**: a `Correction` with `settles` (an owner's decision that settles a conflict).

A later decision by the same annotator on the same document supersedes the earlier one
(`superseded_by` is set; both rows remain). Decisions of different annotators stand side by side
for the agreement figures; an owner settles a conflict with a decision marked `settles`.
The document's current label is derived from these rows by `review.selectors.current_label`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Correction(models.Model):
    class Action(models.TextChoices):
        ACCEPT = "accept", "Accept"
        CHANGE = "change", "Change"
        REJECT = "reject", "Reject"
        UNDO = "undo", "Undo"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="corrections")
    document = models.ForeignKey("corpora.Document", on_delete=models.CASCADE, related_name="corrections")
    prediction = models.ForeignKey(
        "classifiers.Prediction", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )
    run = models.ForeignKey("classifiers.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    strategy = models.CharField(max_length=64, blank=True)
    predicted_paths = models.JSONField(default=list, help_text="What the model said (node ids per level).")
    predicted_scores = models.JSONField(default=list, blank=True)
    before_paths = models.JSONField(default=list, help_text="What stood before this decision.")
    after_paths = models.JSONField(default=list, help_text="What the annotator decided (empty for reject).")
    # Names as they were at decision time, so history reads right even after the taxonomy changes.
    before_names = models.JSONField(default=list, blank=True)
    after_names = models.JSONField(default=list, blank=True)
    action = models.CharField(max_length=8, choices=Action.choices)
    annotator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="corrections")
    settles = models.BooleanField(default=False, help_text="An owner's decision that settles a conflict.")
    superseded_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    taxonomy_version = models.PositiveIntegerField(default=0)
    # Provenance of the label that stood before the decision (see review.selectors.current_label).
    before_source = models.CharField(
        max_length=16, blank=True, help_text="adjudicated, annotators, uploaded or none ('' on older rows)."
    )
    gold_paths = models.JSONField(default=list, blank=True, help_text="The uploaded gold paths at decision time.")
    disagrees_with_gold = models.BooleanField(
        default=False, help_text="The decision differs from the uploaded gold: listed for adjudication."
    )
    test_split = models.BooleanField(
        default=False, help_text="The document was in the test split (evaluation keeps the uploaded gold)."
    )
    undoes = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="For action undo."
    )
    seen_version = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The document's review version (its latest decision id) the reviewer saw."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "document", "annotator"]),
            models.Index(fields=["project", "superseded_by"]),
        ]

    def __str__(self) -> str:
        return f"{self.action} on {self.document_id} by {self.annotator_id}"

    @property
    def is_current(self) -> bool:
        return self.superseded_by_id is None


class ReviewTask(models.Model):
    """Documents that a taxonomy change left needing a human decision.

    kind "split": the documents whose gold label was `node` when it was split into children (or got new
    sub-labels); the question is "which child?". The choices are the node's current descendants, and the
    task is finished when none of its documents is labelled the node itself any more.
    """

    class Kind(models.TextChoices):
        SPLIT = "split", "Which child?"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="review_tasks")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SPLIT)
    node = models.ForeignKey("taxonomies.Node", on_delete=models.CASCADE, related_name="review_tasks")
    document_ids = models.JSONField(default=list, help_text="The documents to decide, fixed when the task was made.")
    taxonomy_version = models.PositiveIntegerField(default=0, help_text="The version the change produced.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} task on {self.node_id}"
