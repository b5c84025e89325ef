"""Taxonomy import (three formats, validation, all-or-nothing) and export round trips."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from taxonomies.formats import available_formats
from taxonomies.models import Node
from taxonomies.services import node_create, node_delete, node_move
from taxonomies.transfer import taxonomy_export, taxonomy_import
from tests.taxonomies.factories import label_documents, tree_shape

EXPECTED = {"CS", "CS > ML", "CS > ML > Deep", "CS > CV", "Med", "Med > Cancer"}

GOOD = {
    "t.json": json.dumps(
        [
            {"name": "CS", "children": [{"name": "ML", "children": [{"name": "Deep"}]}, {"name": "CV"}]},
            {"name": "Med", "description": "Medicine", "children": [{"name": "Cancer", "children": []}]},
        ]
    ),
    "t.txt": "CS\n    ML\n        Deep\n    CV\n\nMed\n    Cancer\n",
    "tabs.txt": "CS\n\tML\n\t\tDeep\n\tCV\nMed\n\tCancer\n",
    "levels.csv": "level1,level2,level3\nCS,ML,Deep\nCS,CV,\nMed,Cancer,\n",
    "noheader.csv": "CS,ML,Deep\nCS,CV\nMed,Cancer\n",
    "paths.csv": 'path\n"CS > ML > Deep"\nCS > CV\nMed > Cancer\n',
}


def _import(project, owner, name, data, **kwargs):
    return taxonomy_import(taxonomy=project.taxonomy, file_name=name, data=data, actor=owner, **kwargs)


def _messages(exc_info) -> str:
    return "\n".join(exc_info.value.messages)


@pytest.mark.parametrize("name", sorted(GOOD))
def test_each_format_imports_the_same_tree_as_one_version(project, owner, name):
    summary = _import(project, owner, name, GOOD[name].encode("utf-8"))
    assert tree_shape(project) == EXPECTED
    assert summary.created == 6 and summary.reused == 0
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == summary.version == 1
    change = project.taxonomy.changes.get()
    assert change.action == "import" and change.details["created"] == 6 and change.actor == owner


def test_json_description_and_file_order_are_kept(project, owner):
    _import(project, owner, "t.json", GOOD["t.json"])
    med = Node.objects.get(taxonomy=project.taxonomy, name="Med")
    assert med.description == "Medicine"
    ml, cv = Node.objects.get(name="ML"), Node.objects.get(name="CV")
    assert ml.position < cv.position


def test_utf8_bom_is_accepted(project, owner):
    _import(project, owner, "t.txt", "\ufeffÉtudes\n  Café\n".encode())
    assert tree_shape(project) == {"Études", "Études > Café"}


def test_merge_mode_reuses_existing_paths_and_keeps_documents(project, owner, build_tree):
    made = build_tree(project, {"CS": {"ML": {}}})
    label_documents(project, made["CS > ML"], 1)
    summary = _import(project, owner, "t.txt", GOOD["t.txt"])
    assert (summary.created, summary.reused) == (4, 2)
    assert tree_shape(project) == EXPECTED
    assert Node.objects.get(pk=made["CS > ML"].pk).gold_labels.count() == 1


def test_replace_mode_deletes_unnamed_labels_but_not_used_ones(project, owner, build_tree):
    made = build_tree(project, {"Old": {"Used": {}}, "Gone": {}})
    _import(project, owner, "t.txt", GOOD["t.txt"] + "Old\n    Used\n", mode="replace")
    assert tree_shape(project) == EXPECTED | {"Old", "Old > Used"}
    label_documents(project, made["Old > Used"], 3)
    with pytest.raises(ValidationError, match="replacing would delete 2 labels that 3 documents use"):
        _import(project, owner, "t.txt", GOOD["t.txt"], mode="replace")
    assert "Old > Used" in tree_shape(project)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "t.csv",
            "level1,level2\nCS,ML\nCS,CV\n,Cancer\nA,B\nC,D\nE,F\n",
            "t.csv, line 4: empty label name in column level1",
        ),
        ("t.csv", "level1,level2,level3\nA,,C\n", "t.csv, line 2: empty label name in column level2"),
        ("t.csv", "path\nA > > C\n", "t.csv, line 2: empty label name at level 2 of the path"),
        ("t.json", '[{"name": "A"},\n {"name": "  "}]', "t.json, line 2: empty label name"),
        (
            "t.json",
            '[{"name": "A",\n "children": [{"name": "B"},\n {"name": "B"}]}]',
            "t.json, line 3: duplicate label 'B' under 'A' (first on line 2)",
        ),
        ("t.json", '[{"name": "A"}, {"name": "A"', "t.json, line 1: not valid JSON"),
        ("t.json", '{"name": "A"}', "expected a list of labels"),
        ("t.txt", "A\n  B\n  B\n", "t.txt, line 3: duplicate label 'B' under 'A' (first on line 2)"),
        (
            "t.txt",
            "A\n  B\n   C\n",
            "t.txt, line 3: inconsistent indentation: 3 space(s), expected whole steps of 2 space(s)",
        ),
        ("t.txt", "A\n  B\n\tC\n", "t.txt, line 3: inconsistent indentation: 1 tab(s)"),
        ("t.txt", "A\n      B\n", "t.txt, line 2: inconsistent indentation: 6 space(s); indent by 2 or 4"),
        ("t.txt", "A\n  B\n      C\n", "t.txt, line 3: inconsistent indentation: 2 steps deeper than the line above"),
        ("t.txt", "  A\n", "t.txt, line 1: inconsistent indentation: the first label is indented"),
        ("t.txt", "A\n  " + "x" * 256 + "\n", "t.txt, line 2: label name longer than 255 characters"),
        ("t.txt", "\n\n", "t.txt: the file names no labels"),
        ("t.xml", "<a/>", "t.xml: unknown file type"),
    ],
)
def test_bad_input_is_reported_with_its_line_and_nothing_is_written(project, owner, name, data, expected):
    with pytest.raises(ValidationError) as info:
        _import(project, owner, name, data.encode("utf-8"))
    assert expected in _messages(info)
    assert not Node.objects.filter(taxonomy=project.taxonomy).exists()
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == 0


def test_every_problem_is_listed_not_only_the_first(project, owner):
    with pytest.raises(ValidationError) as info:
        _import(project, owner, "t.csv", "A,B\n,C\nA,B\nD,,E\n")
    assert info.value.messages == [
        "t.csv, line 2: empty label name in column 1",
        "t.csv, line 3: duplicate label 'B' under 'A' (first on line 1)",
        "t.csv, line 4: empty label name in column 2",
    ]


def test_bad_utf8_names_the_byte_offset_and_line(project, owner):
    data = "Études\n  Café\n".encode() + b"  Caf\xe9\n"  # offsets count bytes, not characters
    with pytest.raises(ValidationError) as info:
        _import(project, owner, "t.txt", data)
    assert "t.txt, line 3: byte 21 is not valid UTF-8" in _messages(info)
    assert not Node.objects.exists()


@override_settings(HTC_MAX_TAXONOMY_DEPTH=2)
def test_depth_limit_is_enforced_per_line(project, owner):
    with pytest.raises(ValidationError) as info:
        _import(project, owner, "t.txt", GOOD["t.txt"])
    assert _messages(info) == "t.txt, line 3: label 'Deep' is at depth 3; the limit is 2"
    assert not Node.objects.exists()


@override_settings(HTC_MAX_TAXONOMY_NODES=5)
def test_node_limit_counts_existing_labels(project, owner):
    node_create(taxonomy=project.taxonomy, name="Other", actor=owner)
    with pytest.raises(ValidationError, match="would have 7 labels; the limit is 5"):
        _import(project, owner, "t.txt", GOOD["t.txt"])
    assert tree_shape(project) == {"Other"}


def test_a_problem_late_in_a_valid_file_writes_nothing(project, owner):
    lines = [f"L{i}\n  child\n" for i in range(200)] + ["L0\n"]
    with pytest.raises(ValidationError, match="line 401: duplicate label 'L0' at the top level"):
        _import(project, owner, "t.txt", "".join(lines))
    assert not Node.objects.exists()


def test_csv_formula_cells_are_quoted_on_export_and_restored_on_import(project, owner, make_project):
    node_create(taxonomy=project.taxonomy, name="=HYPERLINK(1)", actor=owner)
    content, _, _ = taxonomy_export(taxonomy=project.taxonomy, fmt="csv")
    assert content.decode().splitlines()[1] == "'=HYPERLINK(1),"  # the empty cell under the htc_export mark
    other = make_project("Other")
    _import(other, owner, "x.csv", content)
    assert tree_shape(other) == {"=HYPERLINK(1)"}


@pytest.mark.parametrize(
    "data",
    [
        "level1,description\n'=already quoted,'+kept too\n",  # a header without htc's mark
        "'=already quoted\n",  # no header at all
        "path,description\n'=already quoted,'+kept too\n",
    ],
)
def test_a_leading_apostrophe_in_someone_elses_csv_is_kept(project, owner, data):
    """Only htc's own exports (header ending in htc_export) get their `'` prefixes removed, as in the corpus CSV."""
    _import(project, owner, "theirs.csv", data.encode())
    node = Node.objects.get(taxonomy=project.taxonomy)
    assert node.name == "'=already quoted"
    if "description" in data:
        assert node.description == "'+kept too"


def test_names_and_descriptions_with_apostrophes_round_trip_through_the_csv_export(project, owner, make_project):
    names = ["'=already quoted", "''double", "'plain", "=formula", "-minus", "@at", "a,comma", 'a "quote"']
    for name in names:
        node_create(taxonomy=project.taxonomy, name=name, actor=owner)
    Node.objects.filter(taxonomy=project.taxonomy).update(description="'=desc, with a comma")
    content, _, _ = taxonomy_export(taxonomy=project.taxonomy, fmt="csv")
    assert content.decode().splitlines()[0].endswith(",htc_export")
    other = make_project("Other")
    _import(other, owner, "x.csv", content)
    assert tree_shape(other) == set(names)
    descriptions = set(Node.objects.filter(taxonomy=other.taxonomy).values_list("description", flat=True))
    assert descriptions == {"'=desc, with a comma"}


@pytest.mark.parametrize("fmt", [f.name for f in available_formats()])
def test_export_round_trips(project, owner, make_project, fmt):
    _import(project, owner, "t.json", GOOD["t.json"])
    node_create(taxonomy=project.taxonomy, name="Same", parent=Node.objects.get(name="CV"), actor=owner)
    node_create(taxonomy=project.taxonomy, name="Same", parent=Node.objects.get(name="Cancer"), actor=owner)
    content, content_type, filename = taxonomy_export(taxonomy=project.taxonomy, fmt=fmt)
    assert filename == f"Demo-taxonomy-v3.{'txt' if fmt == 'txt' else fmt}" and content_type
    copy = make_project("Copy")
    _import(copy, owner, filename, content)
    assert tree_shape(copy) == tree_shape(project) == EXPECTED | {"CS > CV > Same", "Med > Cancer > Same"}
    if fmt != "txt":  # the indented text format has no descriptions
        assert Node.objects.get(taxonomy=copy.taxonomy, name="Med").description == "Medicine"


def _big_tree(n_top: int, n_mid: int, n_leaf: int) -> str:
    lines = []
    for a in range(n_top):
        lines.append(f"top {a}")
        for b in range(n_mid):
            lines.append(f"  mid {a}.{b}")
            lines.extend(f"    leaf {a}.{b}.{c}" for c in range(n_leaf))
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_twenty_thousand_node_import_and_export(project, owner):
    text = _big_tree(20, 40, 24)  # 20 + 800 + 19,200 = 20,020 labels
    summary = _import(project, owner, "big.txt", text)
    assert summary.created == 20_020
    leaf = Node.objects.get(taxonomy=project.taxonomy, name="leaf 19.39.23")
    mid = Node.objects.get(taxonomy=project.taxonomy, name="mid 19.39")
    top = Node.objects.get(taxonomy=project.taxonomy, name="top 19")
    assert (leaf.depth, leaf.path_key) == (3, f"/{top.pk}/{mid.pk}/{leaf.pk}/")
    content, _, _ = taxonomy_export(taxonomy=project.taxonomy, fmt="txt")
    assert content.decode() == text
    # Whole subtrees of a big tree move and go in bulk (1,001 labels: more than one delete batch).
    node_move(node=mid, new_parent=Node.objects.get(taxonomy=project.taxonomy, name="top 0"), actor=owner)
    assert Node.objects.get(pk=leaf.pk).path_key.startswith(Node.objects.get(name="top 0").path_key + f"{mid.pk}/")
    result = node_delete(node=Node.objects.get(name="top 0"), actor=owner, cascade_children=True)
    assert result["deleted"] == 1 + 41 + 41 * 24
    assert Node.objects.filter(taxonomy=project.taxonomy).count() == 20_020 - result["deleted"]


@pytest.mark.dataset
@pytest.mark.parametrize("name", ["20newsgroups", "dbpedia298_generated", "amazon531_generated"])
def test_shared_dataset_taxonomies_import_and_round_trip(project, owner, make_project, name):
    from tests.conftest import SHARED_DATASETS

    path = SHARED_DATASETS / name / "taxonomy.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared datasets folder is not mounted)")
    data = path.read_bytes()
    expected, stack = 0, list(json.loads(data))
    while stack:
        item = stack.pop()
        expected += 1
        stack.extend(item.get("children", []))
    summary = _import(project, owner, path.name, data)
    assert summary.created == expected
    content, _, filename = taxonomy_export(taxonomy=project.taxonomy, fmt="csv")
    copy = make_project("Copy")
    _import(copy, owner, filename, content)
    assert tree_shape(copy) == tree_shape(project)


def test_a_quoted_multi_line_cell_over_the_field_limit_names_the_limit(project, owner):
    import csv

    data = 'level1\n"' + "a long line\n" * (csv.field_size_limit() // 12 + 2) + '"\n'
    with pytest.raises(ValidationError) as exc:
        _import(project, owner, "big.csv", data.encode())
    assert "field larger than field limit" in _messages(exc) and "never closed" not in _messages(exc)
