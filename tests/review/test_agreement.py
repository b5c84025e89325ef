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
    pairs = {tuple(p["annotators"]): p for p in agreement_for_project(project=project)}
    pair = pairs[("ann", "owner")]
    assert pair["documents"] == 2
    by_level = {row["level"]: row for row in pair["levels"]}
    assert by_level[1]["percent"] == 1.0 and by_level[2]["percent"] == 1.0
    assert by_level[3]["percent"] == 0.5


@pytest.mark.django_db
def test_agreement_counts_only_comparable_decisions(project, owner, make_user, add_member, reviewed_setup):
    """Rejects give no label, decisions on different taxonomy versions are not compared, empty levels are not
    agreements; each annotator is also compared with the uploaded gold."""
    from review.models import Correction

    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    p = s["path"]
    # doc0 (uploaded gold Sci > Phys > Astro): both agree at level 1-2, differ at 3.
    correction_record(
        project=project, document=s["docs"][0], annotator=owner, action="change", after_paths=[p("Sci > Phys")]
    )
    correction_record(
        project=project, document=s["docs"][0], annotator=ann, action="change", after_paths=[p("Sci > Phys > Quantum")]
    )
    # doc1: a reject and a change are not comparable.
    correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="reject", prediction=s["preds"][1]
    )
    correction_record(
        project=project, document=s["docs"][1], annotator=ann, action="change", after_paths=[p("Sci > Bio > Gen")]
    )
    # doc2: decided on different taxonomy versions.
    correction_record(
        project=project, document=s["docs"][2], annotator=owner, action="change", after_paths=[p("Sport > Team")]
    )
    late = correction_record(
        project=project, document=s["docs"][2], annotator=ann, action="change", after_paths=[p("Sci > Bio")]
    )
    Correction.objects.filter(pk=late.pk).update(taxonomy_version=late.taxonomy_version + 1)
    pairs = {tuple(x["annotators"]): x for x in agreement_for_project(project=project)}
    pair = pairs[("ann", "owner")]
    assert pair["documents"] == 1
    by_level = {row["level"]: row for row in pair["levels"]}
    assert by_level[1]["percent"] == 1.0 and by_level[2]["percent"] == 1.0
    assert by_level[3]["items"] == 1 and by_level[3]["percent"] == 0.0  # one side empty: a disagreement
    gold = pairs[("ann", "uploaded gold")]
    assert gold["documents"] == 1  # only doc0 has uploaded gold
    assert {row["level"]: row["percent"] for row in gold["levels"]} == {1: 1.0, 2: 1.0, 3: 0.0}
