"""Adjudication view, the "prediction disagrees with gold" filter, the corrections export and the API conflict."""

import csv
import io
import json

import pytest
from django.urls import reverse

from corpora.models import GoldLabel
from review.labels import current_label
from review.models import Correction
from review.services import correction_record

pytestmark = pytest.mark.django_db


def test_owner_adjudicates_a_conflict_between_annotators(client, project, owner, make_user, add_member, reviewed_setup):
    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    doc = s["docs"][1]
    correction_record(project=project, document=doc, annotator=ann, action="accept", prediction=s["preds"][1])
    correction_record(
        project=project, document=doc, annotator=owner, action="change", after_paths=[s["path"]("Sci > Phys")]
    )
    client.force_login(owner)
    page = client.get(reverse("review:agreement", args=[project.pk])).content.decode()
    assert "annotators disagree" in page and 'name="paths"' in page
    version = Correction.objects.filter(document=doc).order_by("-id").first().pk
    response = client.post(
        reverse("review:adjudicate", args=[project.pk, doc.pk]),
        {"paths": json.dumps([s["path"]("Sci > Phys")]), "version": version},
    )
    assert response.status_code == 302
    label = current_label(document=doc)
    assert (label.source, label.paths) == ("adjudicated", [s["path"]("Sci > Phys")])
    assert "No conflicts." in client.get(reverse("review:agreement", args=[project.pk])).content.decode()


def test_annotators_cannot_adjudicate(client, project, make_user, add_member, reviewed_setup):
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    client.force_login(ann)
    doc = reviewed_setup["docs"][0]
    response = client.post(
        reverse("review:adjudicate", args=[project.pk, doc.pk]),
        {"paths": json.dumps([reviewed_setup["path"]("Sci > Phys")])},
    )
    assert response.status_code == 403 and not Correction.objects.exists()


def test_queue_filter_prediction_disagrees_with_gold(client, project, owner, reviewed_setup):
    s = reviewed_setup
    GoldLabel.objects.create(document=s["docs"][1], node=s["nodes"]["Sport > Team > Football"])  # pred: Sci>Bio>Gen
    client.force_login(owner)
    url = reverse("review:queue", args=[project.pk, s["run"].pk])
    page = client.get(url, {"disagrees": "1"}).content.decode()
    assert ">d1<" in page  # predicted Gen, uploaded gold Football
    assert ">d0<" not in page  # predicted as uploaded
    assert ">d2<" not in page and ">d3<" not in page  # no uploaded gold


def test_review_page_shows_current_gold_with_source_beside_the_prediction(client, project, owner, reviewed_setup):
    s = reviewed_setup
    client.force_login(owner)
    page = client.get(reverse("review:item", args=[project.pk, s["run"].pk, s["preds"][0].pk])).content.decode()
    assert 'id="gold-comparison"' in page and "uploaded gold" in page
    assert 'id="test-split-note"' in page  # a test document: flagged


def test_corrections_export_has_gold_before_prediction_decision_source_and_taxonomy_depth_columns(
    client, project, owner, reviewed_setup
):
    s = reviewed_setup
    pred = s["preds"][0]
    pred.paths = [s["path"]("Sport > Team > Football")]
    pred.save()
    correction_record(project=project, document=s["docs"][0], annotator=owner, action="accept", prediction=pred)
    client.force_login(owner)
    response = client.get(reverse("review:export", args=[project.pk, "corrections", "csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    [row] = rows
    assert row["uploaded_gold_paths"] == "Sci > Phys > Astro"
    assert row["gold_before_paths"] == "Sci > Phys > Astro" and row["gold_before_source"] == "uploaded"
    assert row["predicted_paths"] == row["after_paths"] == "Sport > Team > Football"
    assert row["source"] == "annotator" and row["disagrees_with_gold"] == "True" and row["test_split"] == "True"
    levels = [k for k in row if k.startswith("level")]
    assert levels == ["level1", "level2", "level3"]  # the taxonomy is 3 levels deep
    assert (row["level1"], row["level3"]) == ("Sport", "Football")


def test_api_decision_against_an_old_version_answers_409_and_saves_nothing(
    project, owner, make_user, add_member, reviewed_setup
):
    from rest_framework.test import APIClient

    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    first = correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=s["preds"][1]
    )
    client = APIClient()
    client.force_authenticate(ann)
    url = f"/api/v1/projects/{project.pk}/corrections/"
    response = client.post(url, {"prediction": s["preds"][1].pk, "action": "reject", "version": 0}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["latest"]["id"] == first.pk and body["errors"][0]["field"] == "version"
    assert Correction.objects.count() == 1
    response = client.post(
        url, {"prediction": s["preds"][1].pk, "action": "reject", "version": first.pk}, format="json"
    )
    assert response.status_code == 201 and response.json()["current_label"]["source"] == "annotators"
