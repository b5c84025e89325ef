"""Reading and validating LLM answers: exact, normalised and close matches; everything else invalid."""

from __future__ import annotations

import pytest

from classifiers.engine.llm.parsing import extract_fields, match_label, normalise

ALLOWED = {"Physics": 1, "Biology": 2, "Computer Science": 3, "rec.sport.hockey": 4}


@pytest.mark.parametrize(
    ("answer", "expected", "how"),
    [
        ("Physics", 1, "exact"),
        ("  physics ", 1, "normalised"),
        ("COMPUTER   science.", 3, "normalised"),
        ("rec sport hockey", 4, "normalised"),
        ("Biologyy", 2, "close"),
        ("Computer Scence", 3, "close"),
    ],
)
def test_near_miss_labels_are_matched_with_the_rule_that_accepted_them(answer, expected, how):
    match = match_label(answer, ALLOWED, threshold=0.85)
    assert (match.value, match.how) == (expected, how)


@pytest.mark.parametrize(
    "answer",
    ["Chemistry", "", "The document is about physics and biology", "Bio", 42, None, ["Physics"]],
)
def test_garbage_answers_are_invalid_and_never_coerced(answer):
    match = match_label(answer, ALLOWED, threshold=0.85)
    assert not match.ok and match.value is None and match.reason


def test_close_matching_can_be_switched_off_with_a_threshold_of_one():
    assert not match_label("Biologyy", ALLOWED, threshold=1.0).ok
    assert match_label("biology", ALLOWED, threshold=1.0).how == "normalised"


def test_labels_that_normalise_to_the_same_text_for_different_nodes_are_ambiguous():
    match = match_label("sports", {"Sports": [1], "SPORTS": [7]}, threshold=0.85)
    assert not match.ok and match.reason == "ambiguous label"


def test_normalise_ignores_case_whitespace_and_punctuation():
    assert normalise("  Rec.Sport--Hockey!! ") == "rec sport hockey"


def test_extract_fields_reads_json_embedded_in_text():
    fields, reason = extract_fields('Sure! {"label": "Physics"} hope that helps', ["label"])
    assert fields == {"label": "Physics"} and reason == ""


def test_extract_fields_reports_broken_json_instead_of_guessing():
    fields, reason = extract_fields('{"label": "Phys', ["label"])
    assert fields is None and reason == "invalid JSON"


def test_a_bare_single_line_answer_is_taken_as_the_label_but_prose_stays_prose():
    assert extract_fields('"Physics"', ["label"])[0] == {"label": "Physics"}
    fields, _ = extract_fields("I think\nit is Physics", ["label"])
    assert not match_label(fields["label"], ALLOWED).ok


def test_extract_fields_needs_a_json_object_for_several_levels():
    assert extract_fields("Science then Physics", ["level1", "level2"]) == (None, "not a JSON object")
    fields, _ = extract_fields('{"level1": "Science"}', ["level1", "level2"])
    assert fields == {"level1": "Science", "level2": None}
