"""Classifier configurations, runs (train + predict + evaluate) and stored predictions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ClassifierConfig(models.Model):
    """What to train: a strategy, its parameters, shots, seed and an optional corrector."""

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="classifier_configs")
    name = models.CharField(max_length=200)
    strategy = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    shots = models.PositiveIntegerField(default=0, help_text="Documents per leaf path; 0 = the whole training split.")
    seed = models.IntegerField(default=550)
    corrector = models.CharField(max_length=32, blank=True, help_text="'' or 'crf'")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_config_name")]

    def __str__(self) -> str:
        return self.name


class Run(models.Model):
    """One training of a configuration, pinned to a taxonomy version and a document split."""

    class State(models.TextChoices):
        NEW = "new", "New"
        TRAINING = "training", "Training"
        TRAINED = "trained", "Trained"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="runs")
    config = models.ForeignKey(ClassifierConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    name = models.CharField(max_length=200)
    strategy = models.CharField(max_length=64)
    params = models.JSONField(default=dict, blank=True)
    shots = models.PositiveIntegerField(default=0)
    seed = models.IntegerField(default=550)
    corrector = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    taxonomy_version = models.PositiveIntegerField(default=0)
    train_document_ids = models.JSONField(default=list, blank=True, help_text="The sampled training documents.")
    dev_document_ids = models.JSONField(default=list, blank=True)
    model_dir = models.CharField(max_length=500, blank=True)
    train_seconds = models.FloatField(null=True, blank=True)
    stats = models.JSONField(default=dict, blank=True, help_text="Tokens, calls, cost and other run figures.")
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="unique_run_name")]

    def __str__(self) -> str:
        return self.name


class Prediction(models.Model):
    """A run's answer for one document. Upserted on (run, document): a chunk that runs twice writes once."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="predictions")
    document = models.ForeignKey("corpora.Document", on_delete=models.CASCADE, related_name="predictions")
    # Paths as lists of node ids, level 1 first; several for multi-path tasks. Node ids, not FKs:
    # a prediction is a record of what the model said, even if the taxonomy changed since.
    paths = models.JSONField(default=list)
    scores = models.JSONField(default=list, help_text="Per-level confidence of the predicted nodes.")
    raw_paths = models.JSONField(default=list, blank=True, help_text="What the strategy said before a corrector.")
    consistent = models.BooleanField(default=True)
    valid = models.BooleanField(default=True, help_text="False for an answer that could not be parsed (LLM).")
    raw_output = models.TextField(blank=True)
    margin = models.FloatField(null=True, blank=True, help_text="Lowest top-1 minus top-2 score over levels.")
    stage = models.CharField(max_length=64, blank=True, help_text="Which strategy (or cascade stage) decided.")
    # The deepest node id of the first predicted path (null for no answer): filters "predicted under node X".
    leaf_node = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "document"], name="unique_run_document")]
        indexes = [
            models.Index(fields=["run", "margin"]),
            models.Index(fields=["run", "leaf_node"]),
            # The review queue's "most uncertain first" order, so it is read from the index, not sorted.
            models.Index(fields=["run", "valid", "consistent", "margin", "document"], name="prediction_review_order"),
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.document_id}"


class Evaluation(models.Model):
    """All metrics of a run on one split."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="evaluations")
    split = models.CharField(max_length=8)
    metrics = models.JSONField(default=dict)
    document_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["run", "split"], name="unique_run_split")]

    def __str__(self) -> str:
        return f"{self.run} on {self.split}"


class PseudoLabel(models.Model):
    """A document a weak run trained on with a path it assigned itself (confident zero-shot or LLM answer)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="pseudo_labels")
    document = models.ForeignKey("corpora.Document", on_delete=models.CASCADE, related_name="pseudo_labels")
    path = models.JSONField(default=list, help_text="Node ids, level 1 first.")
    confidence = models.FloatField(help_text="Product of the per-level scores of the path.")

    class Meta:
        ordering = ["run", "-confidence", "document"]
        constraints = [models.UniqueConstraint(fields=["run", "document"], name="unique_pseudo_label")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.document_id} ({self.confidence:.2f})"
