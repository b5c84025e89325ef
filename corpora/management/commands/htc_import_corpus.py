"""Import a corpus file into a project from the command line, with a progress bar."""

from __future__ import annotations

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from corpora.services import corpus_import, parse_split_map
from projects.models import Project


class Command(BaseCommand):
    help = "Import a CSV, TSV, JSONL, TXT or zip file of documents into a project (all or nothing)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The corpus file.")
        parser.add_argument("--project", required=True, help="The project's name.")
        parser.add_argument("--name", default="", help="The corpus name (default: the file name).")
        parser.add_argument("--add-missing-labels", action="store_true", help="Create labels the taxonomy lacks.")
        parser.add_argument("--test-fraction", type=float, default=None)
        parser.add_argument("--dev-fraction", type=float, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--map-split",
            action="append",
            default=[],
            metavar="NAME=SPLIT",
            help="Read the split name NAME as SPLIT (train, dev or test), e.g. --map-split train_subset=train. "
            "Repeat for more names.",
        )

    def handle(self, *args, **options) -> None:
        project = Project.objects.filter(name=options["project"]).first()
        if project is None:
            raise CommandError(f"No project named {options['project']!r}.")
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        try:
            split_map = parse_split_map(",".join(options["map_split"]))
        except ValidationError as exc:
            raise CommandError("--map-split: " + " ".join(exc.messages)) from None
        bar = tqdm(desc="Importing", unit="doc", disable=options["verbosity"] == 0)

        def progress(done: int, total: int | None) -> None:
            bar.n = done
            bar.refresh()

        try:
            with open(path, "rb") as fh:
                corpus = corpus_import(
                    project=project,
                    file_name=path.name,
                    fileobj=fh,
                    actor=None,
                    name=options["name"],
                    add_missing_labels=options["add_missing_labels"],
                    test_fraction=options["test_fraction"],
                    dev_fraction=options["dev_fraction"],
                    seed=options["seed"],
                    split_map=split_map or None,
                    progress=progress,
                )
        except ValidationError as exc:
            bar.close()
            raise CommandError("Nothing was imported:\n" + "\n".join(exc.messages)) from None
        bar.close()
        stats = corpus.stats
        splits = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.get("splits", {}).items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {stats.get('documents', 0):,} documents into corpus {corpus.name!r} (#{corpus.pk}); "
                f"splits: {splits or 'none'}; labels added: {stats.get('labels_created', 0)}."
            )
        )
