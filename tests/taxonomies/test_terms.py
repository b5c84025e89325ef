"""Class-indicative terms in the editor: provenance, edits kept by enrichment, the enrich button, escaping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from jobs.models import Job
from projects.models import Role
from taxonomies.models import Node, TaxonomyChange
from taxonomies.services import node_update_description
from taxonomies.terms import taxonomy_enrich_terms

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(project, build_tree):
    return build_tree(project, {"CS": {"ML": {}, "CV": {}}, "Med": {}})


def _url(name, project, *args):
    return reverse(f"taxonomies:{name}", args=[project.pk, *args])


def test_editing_terms_is_a_recorded_change_that_marks_them_edited(project, tree, owner):
    ml = tree["CS > ML"]
    project.taxonomy.refresh_from_db()
    before = project.taxonomy.version
    node_update_description(node=ml, description="", terms="svm, neural  net,svm", actor=owner)
    ml.refresh_from_db()
    assert (ml.terms, ml.terms_source) == (["svm", "neural net"], "edited")
    change = TaxonomyChange.objects.get(taxonomy=project.taxonomy, version=before + 1)
    assert change.action == "edit" and change.actor == owner and change.details["terms"] == ["svm", "neural net"]


def test_enrichment_replaces_machine_terms_but_keeps_given_ones(project, tree, owner):
    ml, cv, med = tree["CS > ML"], tree["CS > CV"], tree["Med"]
    node_update_description(node=ml, description="", terms="svm", actor=owner)
    Node.objects.filter(pk=med.pk).update(terms=["imported"])  # came with an imported taxonomy
    Node.objects.filter(pk=cv.pk).update(terms=["old"], terms_source="mined")
    project.taxonomy.refresh_from_db()
    version = project.taxonomy.version
    outcome = taxonomy_enrich_terms(
        taxonomy=project.taxonomy,
        terms={ml.pk: ["mined1"], cv.pk: ["pixel", "image"], med.pk: ["drug"]},
        source="mined",
    )
    assert outcome == {"updated": [cv.pk], "kept_edited": [ml.pk, med.pk]}
    assert Node.objects.get(pk=cv.pk).terms == ["pixel", "image"]
    assert Node.objects.get(pk=ml.pk).terms == ["svm"] and Node.objects.get(pk=med.pk).terms == ["imported"]
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version + 1  # one change for the whole enrichment
    again = taxonomy_enrich_terms(taxonomy=project.taxonomy, terms={cv.pk: ["pixel", "image"]}, source="mined")
    project.taxonomy.refresh_from_db()
    assert again["updated"] == [] and project.taxonomy.version == version + 1  # nothing new: no version


def test_owner_starts_enrichment_with_the_chosen_options(client_for, owner, project, tree):
    response = client_for(owner).post(_url("enrich", project), {"source": "both", "top_k": "5", "node": tree["CS"].pk})
    assert response.status_code == 302 and f"node={tree['CS'].pk}" in response["Location"]
    job = Job.objects.get(kind="taxonomy_enrich", project=project)
    assert job.params == {"top_k": 5, "corpus": True, "llm": True, "replace_edited": False}
    assert job.created_by == owner
    # A second click while it is queued does not start a second job.
    client_for(owner).post(_url("enrich", project), {"source": "corpus", "top_k": "5"})
    assert Job.objects.filter(kind="taxonomy_enrich", project=project).count() == 1
    page = client_for(owner).get(_url("editor", project)).content.decode()
    assert 'id="enrich-progress"' in page and f"/jobs/{job.pk}/status.json" in page


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_only_owners_enrich_or_generate(client_for, make_user, add_member, project, tree, role):
    user = make_user("member")
    add_member(project, user, role)
    client = client_for(user)
    assert client.post(_url("enrich", project), {"source": "corpus", "top_k": "5"}).status_code == 403
    assert client.post(_url("examples", project), {"per_leaf": "2"}).status_code == 403
    assert not Job.objects.exists()
    page = client.get(_url("editor", project)).content.decode()
    assert 'id="enrich-form"' not in page


def test_mined_and_edited_terms_render_as_inert_text(client_for, owner, project, tree):
    evil = ["<script>alert(1)</script>", '"><img src=x onerror=alert(2)>']
    ml, cv = tree["CS > ML"], tree["CS > CV"]
    node_update_description(node=ml, description="", terms=evil, actor=owner)
    taxonomy_enrich_terms(taxonomy=project.taxonomy, terms={cv.pk: ["<b>bold</b>", "</textarea><i>x"]}, source="llm")
    for node, terms, source in ((ml, evil, "edited"), (cv, ["<b>bold</b>", "</textarea><i>x"], "llm")):
        html = client_for(owner).get(_url("editor", project), {"node": node.pk}).content.decode()
        for term in terms:
            assert term not in html
        assert "&lt;" in html and f'data-source="{source}"' in html
        assert "<script>" not in html.replace('<script type="module"', "") and "style=" not in html
    html = client_for(owner).get(_url("editor", project), {"node": ml.pk}).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_owner_starts_example_generation(client_for, owner, project, tree):
    response = client_for(owner).post(_url("examples", project), {"per_leaf": "4"})
    assert response.status_code == 302
    job = Job.objects.get(kind="examples_generate", project=project)
    assert job.params == {"per_leaf": 4} and job.target_type == "corpus_generated"
    assert client_for(owner).post(_url("examples", project), {"per_leaf": "99"}).status_code == 302
    assert Job.objects.filter(kind="examples_generate").count() == 1  # out of range: refused, no job
