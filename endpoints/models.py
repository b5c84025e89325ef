"""A project's LLM endpoint: where DL/DH/TMH send their prompts, with an encrypted API key."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LLMEndpoint(models.Model):
    """One per project. The API key is stored only encrypted (Fernet); the page shows its last 4 characters."""

    project = models.OneToOneField("projects.Project", on_delete=models.CASCADE, related_name="llm_endpoint")
    base_url = models.CharField(max_length=500)
    model = models.CharField(max_length=200)
    api_key_encrypted = models.TextField(blank=True, help_text="Fernet token; never shown.")
    api_key_last4 = models.CharField(max_length=4, blank=True)
    price_in_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    price_out_per_1k = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    concurrency = models.PositiveSmallIntegerField(default=2)
    timeout = models.FloatField(default=60.0)
    templates = models.JSONField(default=dict, blank=True, help_text="Prompt template overrides: system, dl, dh, tmh.")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.model} at {self.base_url}"

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)
