"""htc_project_create --name NAME [--owner USERNAME]: create a project with an empty taxonomy."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from classifiers.management.commands._common import validation_message
from projects.services import project_create


class Command(BaseCommand):
    help = "Create a project owned by --owner (an existing user) or, without it, by the first superuser."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True, help="Project name (unique).")
        parser.add_argument("--owner", help="Username of an existing user; default: the first superuser.")
        parser.add_argument("--description", default="")
        parser.add_argument("--multi-path", action="store_true", help="Documents may carry several gold paths.")

    def handle(self, *args, **options) -> None:
        users = get_user_model().objects
        if options["owner"]:
            owner = users.filter(username=options["owner"]).first()
            if owner is None:
                raise CommandError(f"No user named {options['owner']!r}; create it first (manage.py createsuperuser).")
        else:
            owner = users.filter(is_superuser=True).order_by("id").first()
            if owner is None:
                raise CommandError("No superuser exists: pass --owner USERNAME or run manage.py createsuperuser.")
        try:
            project = project_create(
                name=options["name"], owner=owner, description=options["description"], multi_path=options["multi_path"]
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        self.stdout.write(f"Created project {project.name!r} (id {project.pk}) owned by {owner.username}.")
