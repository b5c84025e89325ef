"""Agreement figures against a hand-computed case."""

import pytest

from review.agreement import agreement_for_project, cohens_kappa, percent_agreement
from review.services import correction_record


def test_kappa_and_percent_on_hand_computed_case():
    # 10 items; rater A: 6 x "x", 4 x "y"; rater B agrees on 8.
    a = ["x", "x", "x", "x", "x", "x", "y", "y", "y", "y"]
    b = ["x", "x", "x", "x", "x", "y", "y", "y", "y", "x"]
    assert percent_agreement(a, b) == pytest.approx(0.8)
    # p_e = 0.6*0.6 + 0.4*0.4 = 0.52 -> kappa = (0.8-0.52)/(0.48) = 0.58333
    assert cohens_kappa(a, b) == pytest.approx(0.583333, abs=1e-5)


def test_kappa_is_one_for_identical_constant_labels_and_negative_for_systematic_disagreement():
    assert cohens_kappa(["x", "x"], ["x", "x"]) == 1.0
    assert cohens_kappa(["x", "y"], ["y", "x"]) == pytest.approx(-1.0)


@pytest.mark.django_db
def test_agreement_per_level_from_recorded_decisions(project, owner, make_user, add_member, reviewed_setup):
    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    # doc0: both say Sci>Phys>Astro; doc1: agree at level 1 and 2 (Sci>Phys), differ at 3.
    p = s["path"]
    correction_record(
        project=project, document=s["docs"][0], annotator=owner, action="change", after_paths=[p("Sci > Phys > Astro")]
    )
    correction_record(
        project=project, document=s["docs"][0], annotator=ann, action="change", after_paths=[p("Sci > Phys > Astro")]
    )
    correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="change", after_paths=[p("Sci > Phys > Astro")]
    )
    correction_record(
        project=project, document=s["docs"][1], annotator=ann, action="change", after_paths=[p("Sci > Phys > Quantum")]
    )
    [pair] = agreement_for_project(project=project)
    assert pair["documents"] == 2
    by_level = {row["level"]: row for row in pair["levels"]}
    assert by_level[1]["percent"] == 1.0 and by_level[2]["percent"] == 1.0
    assert by_level[3]["percent"] == 0.5
