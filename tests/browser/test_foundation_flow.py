"""The foundation in a real browser: log in, upload a CSV, add, rename and move labels, see the result."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CSV = """id,text,path
p1,The telescope saw a distant galaxy,Science > Physics
p2,Quarks and gluons inside the proton,Science > Physics
b1,Cells divide by mitosis,Science > Biology
f1,The striker scored twice,Sport > Football
"""


def test_upload_csv_then_add_rename_and_move_labels(page, live_server, login, owner, project, tmp_path):
    from corpora.models import Document, GoldLabel
    from taxonomies.models import Node

    csv_file = tmp_path / "small.csv"
    csv_file.write_text(CSV)
    login(page, owner)
    base = f"{live_server.url}/projects/{project.pk}"

    # Upload a CSV whose labels are new: they are added to the taxonomy.
    page.goto(f"{base}/upload/")
    page.set_input_files("#id_file", str(csv_file))
    page.check("#id_add_missing_labels")
    page.click("main form button[type=submit]")
    page.wait_for_selector("text=Imported")
    assert Document.objects.filter(project=project).count() == 4

    # Add a top-level label.
    page.goto(f"{base}/taxonomy/")
    page.fill("#add-top-name", "Arts and sciences")
    page.click("#add-top-name + button")
    page.wait_for_selector("#taxonomy-tree a:has-text('Arts and sciences')")

    # Select Physics, rename it.
    page.click("#taxonomy-tree a.node-link > bdi:text-is('Physics')")
    page.wait_for_selector("#node-heading:has-text('Physics')")
    page.fill("#rename-name", "Physical sciences")
    page.click("#rename-name + button")
    page.wait_for_selector("#taxonomy-tree a.node-link > bdi:text-is('Physical sciences')")

    # Move it under the new top-level label.
    page.click("#taxonomy-tree a.node-link > bdi:text-is('Physical sciences')")
    page.wait_for_selector("#node-heading:has-text('Physical sciences')")
    page.select_option("#move-target", label="Arts and sciences")
    page.click("form:has(#move-target) button[type=submit]")
    page.wait_for_selector("#taxonomy-tree a.node-link > bdi:text-is('Physical sciences')")

    moved = Node.objects.get(taxonomy=project.taxonomy, name="Physical sciences")
    arts = Node.objects.get(taxonomy=project.taxonomy, name="Arts and sciences")
    assert moved.parent == arts and moved.depth == 2
    # The documents stayed on the moved label, and the browser shows them under the new path.
    assert set(GoldLabel.objects.filter(node=moved).values_list("document__external_id", flat=True)) == {"p1", "p2"}
    page.goto(f"{base}/documents/?node={arts.pk}")
    body = page.inner_text("main")
    assert "Arts and sciences > Physical sciences" in body
    assert "p1" in body and "p2" in body and "f1" not in body
