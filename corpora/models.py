"""Corpora and documents with their gold paths.

A gold path is stored as its deepest node (`GoldLabel.node`); the full path follows from the
taxonomy, so moving or renaming a node keeps every document consistent with no rewrite.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    DEV = "dev", "Dev"
    TEST = "test", "Test"
    NONE = "", "Unassigned"


class Corpus(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="corpora")
    name = models.CharField(max_length=255)
    source_filename = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # What the import did (documents, splits, labels created), shown on the upload and project pages.
    stats = models.JSONField(default=dict, blank=True)
    # The background job that imported this corpus: a re-run of that job finds it and does not import twice.
    import_job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "corpora"

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="documents")
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="documents")
    external_id = models.CharField(max_length=255)
    text = models.TextField()
    split = models.CharField(max_length=8, choices=Split.choices, default=Split.NONE, blank=True, db_index=True)
    meta = models.JSONField(default=dict, blank=True)
    length = models.PositiveIntegerField(default=0, help_text="Characters in text, for length-sorted batching.")
    generated = models.BooleanField(
        default=False, db_index=True, help_text="Written by an LLM (cold-start examples); never evaluated on."
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["project", "external_id"], name="unique_document_id")]
        indexes = [models.Index(fields=["project", "split"]), models.Index(fields=["project", "id"])]

    def __str__(self) -> str:
        return self.external_id


class GoldLabel(models.Model):
    """One gold path of a document, named by its deepest node."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="gold_labels")
    node = models.ForeignKey("taxonomies.Node", on_delete=models.PROTECT, related_name="gold_labels")
    source = models.CharField(max_length=16, default="import", help_text="import, correction, pseudo or generated")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["document", "node"], name="unique_gold_label")]

    def __str__(self) -> str:
        return f"{self.document_id} -> {self.node_id}"
