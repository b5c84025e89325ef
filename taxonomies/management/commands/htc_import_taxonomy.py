"""htc_import_taxonomy --project NAME FILE: import a taxonomy file (.json, .csv, .txt) into a project."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from projects.models import Project
from taxonomies.transfer import MODES, taxonomy_import


class Command(BaseCommand):
    help = "Import a taxonomy file into a project (format by extension: .json, .csv, .txt). All-or-nothing."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The taxonomy file.")
        parser.add_argument("--project", required=True, help="The project's name.")
        parser.add_argument("--mode", choices=MODES, default="merge", help="merge (default) or replace.")
        parser.add_argument("--user", default="", help="Username recorded as the author of the change.")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        project = Project.objects.filter(name=options["project"]).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user named {options['user']!r}.")
        try:
            summary = taxonomy_import(
                taxonomy=project.taxonomy,
                file_name=path.name,
                data=path.read_bytes(),
                actor=actor,
                mode=options["mode"],
            )
        except ValidationError as exc:
            raise CommandError("Nothing was imported:\n" + "\n".join(exc.messages)) from exc
        self.stdout.write(
            f"Imported {path.name} ({summary.format}) into {project.name}: {summary.created} new labels, "
            f"{summary.reused} already there, {summary.updated} updated, {summary.deleted} deleted; "
            f"taxonomy version {summary.version}."
        )
