"""First-run set-up: an admin account and the demo project. Safe to run again: nothing is duplicated."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "demo"
DEMO_PROJECT = "Demo: topics"


class Command(BaseCommand):
    help = "Create the admin account (HTC_ADMIN_USER / HTC_ADMIN_PASSWORD) and load the demo project once."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true", help="Only create the admin account.")

    def handle(self, *args, **options):
        admin = self._ensure_admin()
        if not options["no_demo"]:
            self._ensure_demo(admin)

    def _ensure_admin(self):
        User = get_user_model()
        username = os.environ.get("HTC_ADMIN_USER", "admin")
        user = User.objects.filter(username=username).first()
        if user is not None:
            self.stdout.write(f"Admin account {username!r} exists; its password is unchanged.")
            return user
        password = os.environ.get("HTC_ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(f"Created admin account {username!r} with password: {password}"))
            self.stdout.write("This password is shown once. Set HTC_ADMIN_PASSWORD to choose your own.")
        else:
            self.stdout.write(f"Created admin account {username!r} (password from HTC_ADMIN_PASSWORD).")
        return user

    def _ensure_demo(self, admin) -> None:
        from corpora.services import corpus_import
        from projects.models import Project
        from projects.services import project_create
        from taxonomies.transfer import taxonomy_import

        if Project.objects.filter(name=DEMO_PROJECT).exists():
            self.stdout.write(f"Demo project {DEMO_PROJECT!r} exists; left as it is.")
            return
        with transaction.atomic():
            project = project_create(
                name=DEMO_PROJECT,
                owner=admin,
                description="60 short documents in a 3-level topic taxonomy (science, sports, cooking).",
            )
            taxonomy_path = DEMO_DIR / "taxonomy.json"
            taxonomy_import(
                taxonomy=project.taxonomy, file_name=taxonomy_path.name, data=taxonomy_path.read_bytes(), actor=admin
            )
            corpus_path = DEMO_DIR / "corpus.jsonl"
            with corpus_path.open("rb") as fh:
                corpus = corpus_import(project=project, file_name=corpus_path.name, fileobj=fh, actor=admin)
        self.stdout.write(
            self.style.SUCCESS(f"Loaded demo project {DEMO_PROJECT!r}: {corpus.documents.count()} documents.")
        )
