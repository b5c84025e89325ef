"""Keep uploaded gold apart from review decisions.

Before this migration, an agreed review decision was written over the document's GoldLabel rows (source
"correction"), so the uploaded gold was lost. Schema: Correction rows now record the uploaded gold at decision
time, the source of the label that stood before, a disagreement flag, the test-split flag, undo links and the
review version the reviewer saw. Data, for every document whose GoldLabel was written by review:

- recoverable: the document's first decision was made without a prediction (a review task, the API), so its
  `before_paths` is the gold that stood then. A decision that only refined that label (a "which child?" answer
  after a split: the old label is an ancestor of the new one) keeps the refined GoldLabel, marked "refined";
  otherwise the uploaded label is restored from `before_paths` (source "import") when its labels still exist.
- not recoverable: the first decision was made on a prediction, and the old code recorded the prediction, not
  the gold, as "before". The GoldLabel rows are kept as they are, marked source "overwritten" (shown as
  "overwritten by a review decision; original not recoverable"), so no label is dropped.

Every decision row is kept as it was; the current label is derived from them (review.labels).
"""

import django.db.models.deletion
from django.db import migrations, models

OVERWRITTEN = "overwritten"


def _is_refinement(before, after) -> bool:
    return bool(before) and bool(after) and all(any(len(a) > len(b) and a[: len(b)] == b for a in after) for b in before)


def keep_uploaded_gold_apart(apps, schema_editor):
    Correction = apps.get_model("review", "Correction")
    GoldLabel = apps.get_model("corpora", "GoldLabel")
    Node = apps.get_model("taxonomies", "Node")
    Correction.objects.filter(document__split="test").update(test_split=True)
    doc_ids = sorted(set(GoldLabel.objects.filter(source="correction").values_list("document_id", flat=True)))
    for doc_id in doc_ids:
        labels = GoldLabel.objects.filter(document_id=doc_id)
        first = Correction.objects.filter(document_id=doc_id).order_by("created_at", "id").first()
        if first is not None and not first.predicted_paths:
            before, after = first.before_paths or [], first.after_paths or []
            if _is_refinement(before, after):
                labels.filter(source="correction").update(source="refined")
                Correction.objects.filter(document_id=doc_id).update(gold_paths=before)
                continue
            leaves = list(dict.fromkeys(p[-1] for p in before if p))
            if Node.objects.filter(pk__in=leaves).count() == len(leaves):
                labels.delete()
                GoldLabel.objects.bulk_create([GoldLabel(document_id=doc_id, node_id=n, source="import") for n in leaves])
                Correction.objects.filter(document_id=doc_id).update(gold_paths=before)
                continue
        labels.filter(source="correction").update(source=OVERWRITTEN)


class Migration(migrations.Migration):
    dependencies = [
        ("corpora", "0003_document_generated"),
        ("review", "0002_review_task"),
        ("taxonomies", "0002_change_action_split"),
    ]

    operations = [
        migrations.AlterField(
            model_name="correction",
            name="action",
            field=models.CharField(
                choices=[("accept", "Accept"), ("change", "Change"), ("reject", "Reject"), ("undo", "Undo")],
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="correction",
            name="before_source",
            field=models.CharField(
                blank=True, help_text="adjudicated, annotators, uploaded or none ('' on older rows).", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="correction",
            name="gold_paths",
            field=models.JSONField(blank=True, default=list, help_text="The uploaded gold paths at decision time."),
        ),
        migrations.AddField(
            model_name="correction",
            name="disagrees_with_gold",
            field=models.BooleanField(
                default=False, help_text="The decision differs from the uploaded gold: listed for adjudication."
            ),
        ),
        migrations.AddField(
            model_name="correction",
            name="test_split",
            field=models.BooleanField(
                default=False, help_text="The document was in the test split (evaluation keeps the uploaded gold)."
            ),
        ),
        migrations.AddField(
            model_name="correction",
            name="undoes",
            field=models.ForeignKey(
                blank=True,
                help_text="For action undo.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="review.correction",
            ),
        ),
        migrations.AddField(
            model_name="correction",
            name="seen_version",
            field=models.PositiveBigIntegerField(
                blank=True, help_text="The document's review version (its latest decision id) the reviewer saw.", null=True
            ),
        ),
        migrations.RunPython(keep_uploaded_gold_apart, migrations.RunPython.noop),
    ]
