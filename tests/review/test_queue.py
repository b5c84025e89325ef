"""Queue ordering and filters on hand-made scores."""

import pytest

from review.selectors import review_queue
from review.services import correction_record

pytestmark = pytest.mark.django_db


def ids(qs, setup):
    return [setup["docs"].index(p.document) for p in qs]


def test_uncertainty_order_puts_invalid_then_inconsistent_then_lowest_margin_first(reviewed_setup):
    assert ids(review_queue(run=reviewed_setup["run"]), reviewed_setup) == [3, 2, 1, 0]


def test_document_order(reviewed_setup):
    assert ids(review_queue(run=reviewed_setup["run"], order="document"), reviewed_setup) == [0, 1, 2, 3]


def test_filter_by_predicted_node_includes_descendants(reviewed_setup):
    sci = reviewed_setup["nodes"]["Sci"]
    assert sorted(ids(review_queue(run=reviewed_setup["run"], node=sci), reviewed_setup)) == [0, 1]
    phys = reviewed_setup["nodes"]["Sci > Phys"]
    assert ids(review_queue(run=reviewed_setup["run"], node=phys), reviewed_setup) == [0]


def test_filter_by_reviewed(project, owner, reviewed_setup):
    s = reviewed_setup
    correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=s["preds"][1]
    )
    assert ids(review_queue(run=s["run"], reviewed=True), s) == [1]
    assert ids(review_queue(run=s["run"], reviewed=False), s) == [3, 2, 0]


def test_unknown_order_is_refused(reviewed_setup):
    with pytest.raises(ValueError):
        review_queue(run=reviewed_setup["run"], order="random")
