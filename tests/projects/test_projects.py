"""Projects and memberships: creation, roles, and the scoping of every project view."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from projects.models import Membership, Role
from projects.services import membership_remove, membership_set, project_create

pytestmark = pytest.mark.django_db


def test_project_create_makes_creator_owner_and_an_empty_taxonomy(owner):
    project = project_create(name="Topics", owner=owner)
    assert Membership.objects.get(project=project, user=owner).role == Role.OWNER
    assert project.taxonomy.version == 0
    assert project.taxonomy.nodes.count() == 0


def test_project_names_are_unique(owner):
    project_create(name="Topics", owner=owner)
    with pytest.raises(ValidationError):
        project_create(name="Topics", owner=owner)


def test_last_owner_cannot_be_demoted_or_removed(project, owner):
    membership = Membership.objects.get(project=project, user=owner)
    with pytest.raises(ValidationError):
        membership_set(project=project, username=owner.username, role=Role.VIEWER, actor=owner)
    with pytest.raises(ValidationError):
        membership_remove(project=project, membership_id=membership.pk, actor=owner)


def test_anonymous_visitor_is_sent_to_login(client, project):
    response = client.get(reverse("projects:detail", args=[project.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_non_member_gets_404_for_another_projects_page(client, make_user, project):
    client.force_login(make_user("mallory"))
    assert client.get(reverse("projects:detail", args=[project.pk])).status_code == 404
    assert client.get(reverse("projects:members", args=[project.pk])).status_code == 404


def test_project_list_shows_only_own_projects(client, make_user, make_project):
    bob = make_user("bob")
    make_project(name="Secret stuff")
    make_project(name="Bob's", owner=bob)
    client.force_login(bob)
    body = client.get(reverse("projects:list")).content.decode()
    assert "Bob&#x27;s" in body or "Bob's" in body
    assert "Secret stuff" not in body


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_only_owners_manage_members(client, make_user, add_member, project, role):
    user = make_user("carol")
    add_member(project, user, role)
    make_user("dave")
    client.force_login(user)
    response = client.post(reverse("projects:members", args=[project.pk]), {"username": "dave", "role": "owner"})
    assert response.status_code == 403
    assert not Membership.objects.filter(project=project, user__username="dave").exists()


def test_owner_adds_member_with_role(client, owner, make_user, project):
    make_user("erin")
    client.force_login(owner)
    response = client.post(reverse("projects:members", args=[project.pk]), {"username": "erin", "role": "annotator"})
    assert response.status_code == 302
    assert Membership.objects.get(project=project, user__username="erin").role == Role.ANNOTATOR


def test_member_change_without_csrf_token_is_refused(owner, make_user, project):
    from django.test import Client

    make_user("frank")
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(owner)
    response = csrf_client.post(reverse("projects:members", args=[project.pk]), {"username": "frank", "role": "viewer"})
    assert response.status_code == 403
    assert not Membership.objects.filter(project=project, user__username="frank").exists()


def test_project_name_is_escaped(client, owner):
    project = project_create(name="<script>alert(1)</script>", owner=owner)
    client.force_login(owner)
    body = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_every_page_sends_a_strict_content_security_policy(client, owner, project):
    client.force_login(owner)
    response = client.get(reverse("projects:list"))
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"


def test_labelled_documents_per_level_count_documents_not_label_assignments(client, owner, project, build_tree):
    """A document with two paths counts once per level (the issue saw 2,466 at level 1 in 1,852 documents)."""
    from corpora.models import Corpus, Document, GoldLabel

    tree = build_tree(project, {"A": {"A1": {}}, "B": {"B1": {}}})
    corpus = Corpus.objects.create(project=project, name="c")
    both = Document.objects.create(project=project, corpus=corpus, external_id="both", text="x", split="train")
    one = Document.objects.create(project=project, corpus=corpus, external_id="one", text="y", split="train")
    GoldLabel.objects.bulk_create(
        [
            GoldLabel(document=both, node=tree["A > A1"]),
            GoldLabel(document=both, node=tree["B > B1"]),
            GoldLabel(document=one, node=tree["A > A1"]),
        ]
    )
    client.force_login(owner)
    html = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    table = html.split('id="level-counts"')[1].split("</table>")[0]
    assert "<tr><td>1</td><td>2</td><td>3</td></tr>" in table
    assert "<tr><td>2</td><td>2</td><td>3</td></tr>" in table
