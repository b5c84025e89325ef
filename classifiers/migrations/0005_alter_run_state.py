from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("classifiers", "0004_pseudolabel"),
    ]

    operations = [
        migrations.AlterField(
            model_name="run",
            name="state",
            field=models.CharField(
                choices=[
                    ("new", "New"),
                    ("training", "Training"),
                    ("trained", "Trained"),
                    ("failed", "Failed"),
                    ("cancelled", "Cancelled"),
                ],
                default="new",
                max_length=16,
            ),
        ),
    ]
