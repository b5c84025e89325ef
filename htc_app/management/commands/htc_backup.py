"""Write a consistent backup of the database and the trained models into one archive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from htc_app.backup import BackupError, backup_create
from htc_app.management.commands._progress import Bars


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite online backup or pg_dump) and HTC_DATA_DIR/models into one tar archive "
        "with a manifest of counts and SHA-256 checksums. Safe while htc runs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "output", nargs="?", default="", help="Archive to write [htc-backup-<UTC time>.tar in the current folder]."
        )

    def handle(self, *args, **options) -> None:
        output = Path(options["output"] or f"htc-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.tar")
        if output.exists():
            raise CommandError(f"{output} already exists; choose another name.")
        bars = Bars(disable=options["verbosity"] == 0)
        try:
            manifest = backup_create(output=output, make_bar=bars)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        finally:
            bars.close()
        rows = sum(manifest["counts"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup written to {output}: {manifest['database']['vendor']} database ({rows} rows), "
                f"{manifest['model_count']} model(s), {len(manifest['files'])} file(s) checksummed."
            )
        )
        self.stdout.write("Keep secret_key and fernet_key from the data directory separately; they are not in it.")
