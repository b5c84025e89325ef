"""Models saved before checksum manifests existed get one now, so they keep loading after the upgrade.

Loading refuses a model folder without MANIFEST.json (a tampered model must never predict). The files of a
folder trained before that rule are taken as they are at upgrade time: this migration writes their manifest
once; any later change to them is then refused like any other."""

from pathlib import Path

from django.db import migrations


def seal_existing_models(apps, schema_editor):
    from classifiers.engine.manifest import MANIFEST_NAME, write_manifest

    Run = apps.get_model("classifiers", "Run")
    for model_dir in Run.objects.exclude(model_dir="").values_list("model_dir", flat=True).iterator():
        folder = Path(model_dir)
        if folder.is_absolute() and folder.is_dir() and not (folder / MANIFEST_NAME).exists():
            write_manifest(folder)


class Migration(migrations.Migration):
    dependencies = [("classifiers", "0005_alter_run_state")]

    operations = [migrations.RunPython(seal_existing_models, migrations.RunPython.noop)]
