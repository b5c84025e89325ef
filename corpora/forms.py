from django import forms
from django.core.exceptions import ValidationError

from corpora.services import parse_split_map
from htc_app.forms import BidiForm

SPLIT_MAP_HELP = (
    "Split names in the file to read as train, dev or test, e.g. train_subset=train, heldout=test "
    "(train/training, dev/validation/valid/val and test/testing are known already)."
)


class UploadForm(BidiForm):
    file = forms.FileField(label="Corpus file", help_text="CSV, TSV, JSONL, TXT, or a zip of such files.")
    name = forms.CharField(required=False, max_length=255, label="Corpus name", help_text="Defaults to the file name.")
    add_missing_labels = forms.BooleanField(required=False, label="Add missing labels to the taxonomy")
    split_map = forms.CharField(required=False, max_length=2000, label="Map split names", help_text=SPLIT_MAP_HELP)
    test_fraction = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label="Test fraction",
        help_text="For documents whose file gives no split (e.g. 0.2).",
    )
    dev_fraction = forms.FloatField(required=False, min_value=0, max_value=1, label="Dev fraction")
    seed = forms.IntegerField(required=False, min_value=0, max_value=2**31 - 1, initial=0, label="Random seed")

    def clean_split_map(self) -> dict[str, str]:
        try:
            return parse_split_map(self.cleaned_data.get("split_map") or "")
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None
