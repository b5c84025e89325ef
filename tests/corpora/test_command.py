"""htc_import_corpus: imports with its options, exits non-zero with the problems on bad input."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from corpora.models import Document


def test_command_imports_with_labels_and_a_seeded_split(project, tmp_path, capsys):
    path = tmp_path / "docs.csv"
    path.write_text("id,text,path\n" + "".join(f"{i},text {i},Topic > Sub{i % 2}\n" for i in range(10)))
    call_command(
        "htc_import_corpus",
        str(path),
        "--project",
        project.name,
        "--add-missing-labels",
        "--test-fraction",
        "0.3",
        "--seed",
        "1",
        verbosity=0,
    )
    assert Document.objects.filter(project=project).count() == 10
    assert Document.objects.filter(project=project, split="test").count() == 3
    assert "Imported 10 documents" in capsys.readouterr().out


def test_command_fails_with_the_problems_and_writes_nothing(project, tmp_path):
    path = tmp_path / "docs.csv"
    path.write_text("id,text,path\n1,text,Unknown\n")
    with pytest.raises(CommandError) as exc:
        call_command("htc_import_corpus", str(path), "--project", project.name, verbosity=0)
    assert "docs.csv, line 2, field path: unknown label 'Unknown'" in str(exc.value)
    assert Document.objects.count() == 0


def test_command_names_a_missing_project(db, tmp_path):
    path = tmp_path / "docs.txt"
    path.write_text("hello\n")
    with pytest.raises(CommandError, match="No project named 'Nope'"):
        call_command("htc_import_corpus", str(path), "--project", "Nope", verbosity=0)


def test_command_maps_split_names_and_refuses_them_without(project, tmp_path):
    path = tmp_path / "docs.csv"
    path.write_text("id,text,split\n1,a,train_subset\n2,b,heldout\n")
    with pytest.raises(CommandError) as exc:
        call_command("htc_import_corpus", str(path), "--project", project.name, verbosity=0)
    assert "docs.csv, line 2, field split: unknown split 'train_subset'" in str(exc.value)
    call_command(
        "htc_import_corpus",
        str(path),
        "--project",
        project.name,
        "--map-split",
        "train_subset=train",
        "--map-split",
        "heldout=test",
        verbosity=0,
    )
    assert dict(Document.objects.values_list("external_id", "split")) == {"1": "train", "2": "test"}
    with pytest.raises(CommandError, match="--map-split"):
        call_command("htc_import_corpus", str(path), "--project", project.name, "--map-split", "x=y", verbosity=0)
