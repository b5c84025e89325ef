"""The htc_import_taxonomy management command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from taxonomies.models import Node
from tests.taxonomies.factories import tree_shape


def test_command_imports_a_file_and_says_what_it_did(project, tmp_path, capsys):
    path = tmp_path / "tax.txt"
    path.write_text("A\n  B\n  C\n")
    call_command("htc_import_taxonomy", "--project", project.name, str(path))
    assert tree_shape(project) == {"A", "A > B", "A > C"}
    assert "3 new labels" in capsys.readouterr().out


def test_command_fails_with_file_and_line_on_bad_input(project, tmp_path):
    path = tmp_path / "tax.csv"
    path.write_text("level1,level2\nA,B\nA,B\n")
    with pytest.raises(CommandError, match=r"tax.csv, line 3: duplicate label 'B' under 'A'"):
        call_command("htc_import_taxonomy", "--project", project.name, str(path))
    assert not Node.objects.exists()


def test_command_refuses_an_unknown_project(db, tmp_path):
    path = tmp_path / "tax.json"
    path.write_text("[]")
    with pytest.raises(CommandError, match="No project named 'Nope'"):
        call_command("htc_import_taxonomy", "--project", "Nope", str(path))
