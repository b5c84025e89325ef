from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0003_queue_device_worker_presence"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="phases",
            field=models.JSONField(blank=True, default=list),
        ),
    ]
