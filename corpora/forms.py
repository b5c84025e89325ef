from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(label="Corpus file", help_text="CSV, TSV, JSONL, TXT, or a zip of such files.")
    name = forms.CharField(required=False, max_length=255, label="Corpus name", help_text="Defaults to the file name.")
    add_missing_labels = forms.BooleanField(required=False, label="Add missing labels to the taxonomy")
    test_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Test fraction",
        help_text="For documents whose file gives no split (e.g. 0.2).",
    )
    dev_fraction = forms.FloatField(required=False, min_value=0, max_value=1, label="Dev fraction")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1, initial=0, label="Random seed")
