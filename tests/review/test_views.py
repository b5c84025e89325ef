"""Review pages: permissions, decisions through HTTP, exports."""

import csv
import io
import json

import pytest
from django.urls import reverse

from review.models import Correction

pytestmark = pytest.mark.django_db


def item_url(project, s, i):
    return reverse("review:item", args=[project.pk, s["run"].pk, s["preds"][i].pk])


def test_viewer_cannot_correct(client, project, make_user, add_member, reviewed_setup):
    viewer = make_user("vic")
    add_member(project, viewer, "viewer")
    client.force_login(viewer)
    assert client.get(item_url(project, reviewed_setup, 1)).status_code == 200
    response = client.post(item_url(project, reviewed_setup, 1), {"action": "accept"})
    assert response.status_code == 403
    assert not Correction.objects.exists()


def test_non_member_gets_404(client, make_user, project, reviewed_setup):
    client.force_login(make_user("mallory"))
    assert client.get(item_url(project, reviewed_setup, 1)).status_code == 404
    assert client.get(reverse("review:queue", args=[project.pk, reviewed_setup["run"].pk])).status_code == 404


def test_annotator_correction_through_http_redirects_to_next(client, project, make_user, add_member, reviewed_setup):
    s = reviewed_setup
    ann = make_user("ann")
    add_member(project, ann, "annotator")
    client.force_login(ann)
    response = client.post(
        item_url(project, s, 2), {"action": "change", "paths": json.dumps([s["path"]("Sport > Team")])}
    )
    assert response.status_code == 302 and "/next/" in response["Location"]
    c = Correction.objects.get()
    assert c.annotator == ann and c.after_paths == [s["path"]("Sport > Team")]
    # The next item skips what this annotator decided.
    nxt = client.get(response["Location"])
    assert nxt.status_code == 302 and str(s["preds"][2].pk) not in nxt["Location"].split("/items/")[1].split("/")[0]


def test_review_page_escapes_document_text_and_labels(client, owner, project, reviewed_setup):
    from taxonomies.models import Node

    s = reviewed_setup
    doc = s["docs"][1]
    doc.text = "<img src=x onerror=alert(1)>"
    doc.save()
    Node.objects.filter(pk=s["nodes"]["Sci > Bio"].pk).update(name="<b>bio</b>")
    client.force_login(owner)
    body = client.get(item_url(project, s, 1)).content.decode()
    assert "<img src=x onerror=alert(1)>" not in body and "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<b>bio</b>" not in body.replace("\\u003Cb\\u003Ebio\\u003C/b\\u003E", "")


def test_corrections_csv_export_is_csv_safe(client, owner, project, reviewed_setup):
    from taxonomies.models import Node

    s = reviewed_setup
    Node.objects.filter(pk=s["nodes"]["Sci"].pk).update(name="=HYPERLINK(1)")
    from review.services import correction_record

    correction_record(
        project=project, document=s["docs"][1], annotator=owner, action="accept", prediction=s["preds"][1]
    )
    client.force_login(owner)
    response = client.get(reverse("review:export", args=[project.pk, "corrections", "csv"]))
    assert response["Content-Disposition"].startswith("attachment")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["level1"] == "'=HYPERLINK(1)"
    assert rows[0]["annotator"] == "owner" and rows[0]["provenance"] == "human"


def test_predictions_jsonl_export_has_full_paths_and_scores(client, owner, project, reviewed_setup):
    s = reviewed_setup
    client.force_login(owner)
    url = reverse("review:export", args=[project.pk, "predictions", "jsonl"]) + f"?run={s['run'].pk}"
    lines = [json.loads(line) for line in b"".join(client.get(url).streaming_content).decode().splitlines()]
    assert len(lines) == 4
    first = next(row for row in lines if row["document_id"] == "d0")
    assert first["paths"] == [["Sci", "Phys", "Astro"]] and first["scores"] == [0.9, 0.9, 0.9]


def test_document_page_shows_predictions_with_corrector_change_and_decisions(client, owner, project, reviewed_setup):
    from review.services import correction_record

    s = reviewed_setup
    pred = s["preds"][2]
    pred.raw_paths = [[s["nodes"]["Sci"].pk, s["nodes"]["Sport > Team"].pk]]
    pred.save()
    correction_record(project=project, document=s["docs"][2], annotator=owner, action="accept", prediction=pred)
    client.force_login(owner)
    body = client.get(reverse("corpora:document", args=[project.pk, s["docs"][2].pk])).content.decode()
    assert "Sport &gt; Team &gt; Football" in body
    assert "corrected by" in body and "Sci &gt; Team" in body
    assert "owner" in body and "accept" in body
