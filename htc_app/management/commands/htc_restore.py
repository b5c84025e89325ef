"""Restore a backup written by htc_backup: the database and the trained models, checksums verified first."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from htc_app.backup import BackupError, backup_restore
from htc_app.management.commands._progress import Bars


class Command(BaseCommand):
    help = (
        "Restore an htc_backup archive into the configured database and HTC_DATA_DIR/models. Refuses to "
        "overwrite existing data unless --force. Stop the web server and workers first."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("archive", help="The archive written by htc_backup.")
        parser.add_argument("--force", action="store_true", help="Replace a non-empty database and models folder.")

    def handle(self, *args, **options) -> None:
        bars = Bars(disable=options["verbosity"] == 0)
        try:
            report = backup_restore(archive=Path(options["archive"]), force=options["force"], make_bar=bars)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bars.close()
        manifest = report["manifest"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {manifest['database']['vendor']} database ({sum(report['counts'].values())} rows) and "
                f"{manifest['model_count']} model(s) from {options['archive']} (made {manifest['created_at']}, "
                f"htc {manifest['htc_version']})."
            )
        )
        for warning in report["warnings"]:
            self.stdout.write(self.style.WARNING(warning))
