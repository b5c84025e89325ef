"""Forms of the taxonomy editor: they only check shapes; the services check the tree."""

from __future__ import annotations

from django import forms

from taxonomies.transfer import MODES


class NameForm(forms.Form):
    name = forms.CharField(max_length=255, label="Name")
    parent = forms.CharField(required=False, label="Parent")


class TargetForm(forms.Form):
    target = forms.CharField(required=False, max_length=3000, label="Label")


class DeleteForm(TargetForm):
    cascade = forms.BooleanField(required=False, label="Also delete its sub-labels")


class SplitForm(forms.Form):
    children = forms.CharField(widget=forms.Textarea, max_length=30000, label="Children (one per line)")


class DescriptionForm(forms.Form):
    description = forms.CharField(required=False, widget=forms.Textarea, max_length=5000, label="Description")
    terms = forms.CharField(required=False, widget=forms.Textarea, max_length=20000, label="Terms")


class ImportForm(forms.Form):
    file = forms.FileField(label="Taxonomy file")
    mode = forms.ChoiceField(
        choices=[(m, m) for m in MODES],
        initial="merge",
        label="Mode",
        help_text="merge keeps existing labels; replace deletes labels the file does not name (refused when documents use them).",
    )


class EnrichForm(forms.Form):
    SOURCES = [("corpus", "the corpus"), ("both", "the corpus and the LLM"), ("llm", "the LLM only")]
    source = forms.ChoiceField(choices=SOURCES, initial="corpus", label="Terms from")
    top_k = forms.IntegerField(min_value=1, max_value=50, initial=8, label="Terms per label")
    replace_edited = forms.BooleanField(required=False, label="Also replace terms a person gave")


class ExamplesForm(forms.Form):
    per_leaf = forms.IntegerField(min_value=1, max_value=20, initial=3, label="Examples per leaf path")
