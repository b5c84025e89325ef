"""documents_export: CSV neutralisation, round trips through the importer, node filter."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.exceptions import ValidationError

from corpora.models import Document, GoldLabel
from corpora.services import documents_export
from taxonomies.models import Node
from taxonomies.selectors import taxonomy_tree

TREE = {"Sci": {"Med": {}, "Space": {}}, "Rec": {}}


def export(project, fmt, node=None) -> str:
    return "".join(documents_export(project=project, fmt=fmt, node=node))


def snapshot(project) -> dict:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    docs = {d.pk: d for d in Document.objects.filter(project=project)}
    paths: dict[int, list[str]] = {pk: [] for pk in docs}
    for doc_id, node_id in GoldLabel.objects.filter(document__project=project).values_list("document_id", "node_id"):
        paths[doc_id].append(tree.path_label(node_id))
    return {d.external_id: (d.text, d.split, sorted(paths[pk])) for pk, d in docs.items()}


@pytest.fixture
def filled(make_project, build_tree, import_bytes):
    project = make_project("Source", multi_path=True)
    build_tree(project, TREE)
    rows = [
        {"id": "f1", "text": '=HYPERLINK("http://evil")', "path": ["Sci", "Med"], "split": "train"},
        {"id": "-f2", "text": "line one\nline two, with comma", "paths": [["Sci", "Space"], ["Rec"]], "split": "test"},
        {"id": "f3", "text": '@mention +1 "quoted"', "split": "dev"},
        {"id": "f4", "text": "\tstarts with a tab", "path": ["Rec"]},
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    import_bytes(project, "src.jsonl", data)
    return project


def test_csv_export_neutralises_formula_cells(filled):
    out = list(csv.reader(io.StringIO(export(filled, "csv"))))
    assert out[0] == ["id", "text", "split", "path", "level1", "level2", "htc_export"]
    by_id = {row[0]: row for row in out[1:]}
    assert by_id["f1"][1] == '\'=HYPERLINK("http://evil")'
    assert "'-f2" in by_id and by_id["'-f2"][3] == "Sci > Space | Rec" and by_id["'-f2"][4:6] == ["", ""]
    assert by_id["f3"][1] == '\'@mention +1 "quoted"'
    assert by_id["f4"][1] == "'\tstarts with a tab" and by_id["f4"][4:6] == ["Rec", ""]
    assert by_id["f1"][4:6] == ["Sci", "Med"]
    # No cell of the export starts with a formula character.
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in out for cell in row)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_imports_back_unchanged(filled, make_project, import_bytes, fmt):
    target = make_project(f"Copy {fmt}", multi_path=True)
    import_bytes(target, f"export.{fmt}", export(filled, fmt).encode(), add_missing_labels=True)
    assert snapshot(target) == snapshot(filled)


def test_export_by_node_includes_descendants_only(filled):
    sci = Node.objects.get(taxonomy=filled.taxonomy, name="Sci", parent=None)
    lines = [json.loads(line) for line in export(filled, "jsonl", node=sci).splitlines()]
    assert sorted(d["id"] for d in lines) == ["-f2", "f1"]
    assert next(d for d in lines if d["id"] == "-f2")["paths"] == [["Sci", "Space"], ["Rec"]]


def test_unknown_export_format_is_refused(filled):
    with pytest.raises(ValidationError):
        export(filled, "xlsx")
