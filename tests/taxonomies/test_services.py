"""Node services: rename, move, merge, delete, descriptions; documents stay consistent; versions recorded."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from corpora.models import GoldLabel
from taxonomies.models import Node, TaxonomyChange
from taxonomies.services import (
    node_create,
    node_delete,
    node_merge,
    node_move,
    node_rename,
    node_update_description,
)
from tests.taxonomies.factories import gold_paths, label_documents, tree_shape

SPEC = {"CS": {"ML": {"Deep": {}}, "CV": {}}, "Med": {"Cancer": {}}}


@pytest.fixture
def tree(project, build_tree):
    return build_tree(project, SPEC)


def test_create_refuses_duplicate_sibling_but_allows_same_name_elsewhere(project, tree, owner):
    with pytest.raises(ValidationError, match="already exists under 'CS'"):
        node_create(taxonomy=project.taxonomy, name="ML", parent=tree["CS"], actor=owner)
    other = node_create(taxonomy=project.taxonomy, name="ML", parent=tree["Med"], actor=owner)
    assert other.depth == 2 and other.path_key == f"/{tree['Med'].pk}/{other.pk}/"


@pytest.mark.parametrize("bad", ["", "   ", "x" * 256, "two\nlines"])
def test_create_refuses_bad_names(project, owner, bad):
    with pytest.raises(ValidationError):
        node_create(taxonomy=project.taxonomy, name=bad, actor=owner)
    assert not Node.objects.filter(taxonomy=project.taxonomy).exists()


def test_rename_keeps_documents_and_records_a_version(project, tree, owner):
    label_documents(project, tree["CS > ML"], 2, prefix="d")
    before = project.taxonomy.version
    node_rename(node=tree["CS > ML"], name="Machine learning", actor=owner)
    assert gold_paths(project) == {"d-0": ["CS > Machine learning"], "d-1": ["CS > Machine learning"]}
    change = TaxonomyChange.objects.get(taxonomy=project.taxonomy, version=before + 1)
    assert change.action == "rename" and change.actor == owner
    assert change.details == {"node": tree["CS > ML"].pk, "from": "ML", "to": "Machine learning"}


def test_rename_refuses_a_sibling_name(project, tree, owner):
    with pytest.raises(ValidationError, match="already exists"):
        node_rename(node=tree["CS > ML"], name="CV", actor=owner)
    assert Node.objects.get(pk=tree["CS > ML"].pk).name == "ML"


def test_move_node_keeps_documents_on_the_moved_subtree(project, tree, owner):
    label_documents(project, tree["CS > ML > Deep"], 1, prefix="deep")
    label_documents(project, tree["CS > ML"], 1, prefix="ml")
    version = project.taxonomy.version
    node_move(node=tree["CS > ML"], new_parent=tree["Med > Cancer"], actor=owner)
    assert gold_paths(project) == {"deep-0": ["Med > Cancer > ML > Deep"], "ml-0": ["Med > Cancer > ML"]}
    assert "Med > Cancer > ML > Deep" in tree_shape(project)  # also checks depth and path_key everywhere
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version + 1
    assert project.taxonomy.changes.first().action == "move"


def test_move_to_top_level_and_back(project, tree, owner):
    node_move(node=tree["CS > ML"], new_parent=None, actor=owner)
    assert {"ML", "ML > Deep"} <= tree_shape(project)
    node_move(node=tree["CS > ML"], new_parent=tree["Med"], actor=owner)
    assert {"Med > ML", "Med > ML > Deep"} <= tree_shape(project)


@pytest.mark.parametrize("target", ["CS > ML", "CS > ML > Deep"])
def test_move_into_itself_or_its_descendant_is_refused(project, tree, owner, target):
    with pytest.raises(ValidationError, match="under itself or one of its descendants"):
        node_move(node=tree["CS > ML"], new_parent=tree[target], actor=owner)
    assert "CS > ML > Deep" in tree_shape(project)


def test_move_refuses_a_name_taken_at_the_destination(project, tree, owner):
    node_create(taxonomy=project.taxonomy, name="ML", parent=tree["Med"], actor=owner)
    version = project.taxonomy.version
    with pytest.raises(ValidationError, match="already exists under 'Med'"):
        node_move(node=tree["CS > ML"], new_parent=tree["Med"], actor=owner)
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version


@override_settings(HTC_MAX_TAXONOMY_DEPTH=3)
def test_move_refuses_to_exceed_the_depth_limit(project, tree, owner):
    with pytest.raises(ValidationError, match="deeper than 3"):
        node_move(node=tree["CS > ML"], new_parent=tree["Med > Cancer"], actor=owner)


def test_merge_moves_documents_and_children_and_deletes_the_source(project, tree, owner):
    node_create(taxonomy=project.taxonomy, name="Deep", parent=tree["CS > CV"], actor=owner)
    docs = label_documents(project, tree["CS > ML"], 2, prefix="ml")
    label_documents(project, tree["CS > ML > Deep"], 1, prefix="deep")
    # A document on both source and target keeps one label.
    GoldLabel.objects.create(document=docs[0], node=tree["CS > CV"])
    node_merge(source=tree["CS > ML"], target=tree["CS > CV"], actor=owner)
    assert gold_paths(project) == {"ml-0": ["CS > CV"], "ml-1": ["CS > CV"], "deep-0": ["CS > CV > Deep"]}
    assert tree_shape(project) == {"CS", "CS > CV", "CS > CV > Deep", "Med", "Med > Cancer"}
    change = project.taxonomy.changes.first()
    assert change.action == "merge" and change.details["documents_moved"] == 3
    assert change.details["source_path"] == "CS > ML" and len(change.details["children_merged"]) == 1


def test_merge_into_a_descendant_is_refused(project, tree, owner):
    with pytest.raises(ValidationError, match="own descendants"):
        node_merge(source=tree["CS"], target=tree["CS > ML"], actor=owner)
    with pytest.raises(ValidationError, match="into itself"):
        node_merge(source=tree["CS"], target=tree["CS"], actor=owner)


def test_merge_into_the_parent_lifts_children(project, tree, owner):
    node_merge(source=tree["CS > ML"], target=tree["CS"], actor=owner)
    assert tree_shape(project) == {"CS", "CS > Deep", "CS > CV", "Med", "Med > Cancer"}


def test_merge_unites_terms(project, tree, owner):
    node_update_description(node=tree["CS > ML"], description="", terms=["neural", "svm"], actor=owner)
    node_update_description(node=tree["CS > CV"], description="Vision", terms=["svm", "image"], actor=owner)
    target = node_merge(source=tree["CS > ML"], target=tree["CS > CV"], actor=owner)
    assert target.terms == ["svm", "image", "neural"] and target.description == "Vision"


def test_delete_of_a_used_label_is_refused_with_counts(project, tree, owner):
    label_documents(project, tree["CS > ML > Deep"], 12)
    version = project.taxonomy.version
    with pytest.raises(ValidationError) as info:
        node_delete(node=tree["CS > ML"], actor=owner, cascade_children=True)
    assert "12 documents use this label or its descendants; choose where to move them." in info.value.messages
    assert Node.objects.filter(pk=tree["CS > ML > Deep"].pk).exists()
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version


def test_delete_with_children_needs_cascade(project, tree, owner):
    with pytest.raises(ValidationError, match="has 1 sub-label"):
        node_delete(node=tree["CS > ML"], actor=owner)


def test_delete_with_reassign_moves_documents_of_the_whole_subtree(project, tree, owner):
    docs = label_documents(project, tree["CS > ML > Deep"], 2, prefix="deep")
    GoldLabel.objects.create(document=docs[0], node=tree["CS > ML"])  # two labels in the subtree
    label_documents(project, tree["CS > ML"], 1, prefix="ml")
    result = node_delete(node=tree["CS > ML"], actor=owner, reassign_to=tree["Med"], cascade_children=True)
    assert result == {"deleted": 2, "documents_moved": 3}
    assert gold_paths(project) == {"deep-0": ["Med"], "deep-1": ["Med"], "ml-0": ["Med"]}
    assert tree_shape(project) == {"CS", "CS > CV", "Med", "Med > Cancer"}
    change = project.taxonomy.changes.first()
    assert change.action == "delete" and change.details["reassign_path"] == "Med"


def test_delete_refuses_a_reassign_target_inside_the_subtree(project, tree, owner):
    label_documents(project, tree["CS > ML"], 1)
    with pytest.raises(ValidationError, match="outside"):
        node_delete(node=tree["CS > ML"], actor=owner, reassign_to=tree["CS > ML > Deep"], cascade_children=True)


def test_delete_of_an_unused_leaf(project, tree, owner):
    node_delete(node=tree["Med > Cancer"], actor=owner)
    assert tree_shape(project) == {"CS", "CS > ML", "CS > ML > Deep", "CS > CV", "Med"}


def test_description_and_terms_are_saved_and_versioned(project, tree, owner):
    version = project.taxonomy.version
    node = node_update_description(node=tree["Med"], description=" Medicine ", terms="drug, trial,drug,, ", actor=owner)
    assert (node.description, node.terms) == ("Medicine", ["drug", "trial"])
    # An edit that changes nothing is not a new version.
    node_update_description(node=tree["Med"], description="Medicine", terms=["drug", "trial"], actor=owner)
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version + 1


def test_every_change_is_one_version_with_who_and_what(project, owner):
    a = node_create(taxonomy=project.taxonomy, name="A", actor=owner)
    b = node_create(taxonomy=project.taxonomy, name="B", actor=owner)
    node_rename(node=a, name="A2", actor=owner)
    node_move(node=b, new_parent=a, actor=owner)
    node_delete(node=b, actor=owner)
    changes = list(project.taxonomy.changes.order_by("version").values_list("version", "action"))
    assert changes == [(1, "create"), (2, "create"), (3, "rename"), (4, "move"), (5, "delete")]
