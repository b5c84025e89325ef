"""The label tree of a project, versioned.

A node's place is stored three ways, kept in step by `taxonomies.services` only:
`parent` (the edge), `depth` (1 for a top-level node) and `path_key` ("/<id>/<id>/.../"),
so that "this node and its descendants" is one indexed prefix query, with no recursion.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Taxonomy(models.Model):
    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="taxonomy")
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every change; runs pin it.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Taxonomy of {self.project} (v{self.version})"


class Node(models.Model):
    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="nodes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, help_text="Optional label description used in prompts.")
    terms = models.JSONField(default=list, blank=True, help_text="Class-indicative terms (editable).")
    # Where the terms came from: "" (none, or imported with the taxonomy), "mined" (from the corpus),
    # "llm", "mined+llm", or "edited" (by a person: enrichment keeps them unless asked to replace them).
    terms_source = models.CharField(max_length=16, blank=True, default="")
    depth = models.PositiveSmallIntegerField(default=1)
    path_key = models.CharField(max_length=2048, default="", db_index=True)
    position = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["taxonomy", "parent", "name"], name="unique_sibling_name"),
            models.UniqueConstraint(
                fields=["taxonomy", "name"], condition=Q(parent__isnull=True), name="unique_root_name"
            ),
        ]
        indexes = [models.Index(fields=["taxonomy", "parent"])]

    def __str__(self) -> str:
        return self.name


class TaxonomyChange(models.Model):
    """One recorded edit (who, when, what): the taxonomy's version history."""

    class Action(models.TextChoices):
        CREATE = "create", "Create"
        RENAME = "rename", "Rename"
        MOVE = "move", "Move"
        MERGE = "merge", "Merge"
        DELETE = "delete", "Delete"
        IMPORT = "import", "Import"
        EDIT = "edit", "Edit"
        SPLIT = "split", "Split"

    taxonomy = models.ForeignKey(Taxonomy, on_delete=models.CASCADE, related_name="changes")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    details = models.JSONField(default=dict)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version", "-id"]

    def __str__(self) -> str:
        return f"v{self.version} {self.action}"
