"""`make run`'s set-up step: admin account and demo project, idempotent."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_setup_creates_admin_and_demo_once(monkeypatch, capsys):
    from django.contrib.auth import get_user_model

    from corpora.models import Document
    from projects.models import Membership, Project

    monkeypatch.delenv("HTC_ADMIN_PASSWORD", raising=False)
    call_command("htc_setup")
    first = capsys.readouterr().out
    assert "password:" in first
    project = Project.objects.get(name="Demo: topics")
    docs = Document.objects.filter(project=project)
    assert docs.count() >= 60
    assert project.taxonomy.nodes.filter(depth=3).exists()
    assert all(d.gold_labels.exists() for d in docs)
    assert set(docs.values_list("split", flat=True)) == {"train", "test"}
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and Membership.objects.filter(project=project, user=admin, role="owner").exists()

    call_command("htc_setup")
    second = capsys.readouterr().out
    assert "password:" not in second
    assert Project.objects.filter(name="Demo: topics").count() == 1
    assert Document.objects.filter(project=project).count() == docs.count()


def test_setup_takes_the_admin_password_from_the_environment(monkeypatch):
    from django.contrib.auth import get_user_model

    monkeypatch.setenv("HTC_ADMIN_PASSWORD", "a-long-chosen-password")
    call_command("htc_setup", "--no-demo")
    assert get_user_model().objects.get(username="admin").check_password("a-long-chosen-password")
