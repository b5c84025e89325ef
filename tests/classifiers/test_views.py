"""Run pages and the metrics dashboard: permissions, starting a run, escaping of user text."""

from __future__ import annotations

import pytest
from django.urls import reverse

from classifiers.models import Run
from jobs.models import Job
from projects.models import Role
from taxonomies.models import Node

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


def start_data(**extra):
    return {
        "name": "",
        "strategy": "tfidf",
        "shots": 2,
        "seed": 5,
        "corrector": "",
        "params": "C=4",
        "split": "test",
        **extra,
    }


def test_non_member_gets_404_everywhere(trained_run, make_user, client_for):
    client = client_for(make_user("stranger"))
    pid = trained_run.project_id
    for url in [
        reverse("classifiers:runs", args=[pid]),
        reverse("classifiers:metrics", args=[pid]),
        reverse("classifiers:run", args=[pid, trained_run.pk]),
        reverse("classifiers:predictions", args=[pid, trained_run.pk]),
    ]:
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("classifiers:runs", args=[pid]), start_data()).status_code == 404


def test_viewer_sees_runs_but_cannot_start_one(corpus_project, make_user, add_member, client_for):
    viewer = make_user("viewer")
    add_member(corpus_project, viewer, Role.VIEWER)
    client = client_for(viewer)
    url = reverse("classifiers:runs", args=[corpus_project.pk])
    page = client.get(url)
    assert page.status_code == 200 and b"run-form" not in page.content
    assert client.post(url, start_data()).status_code == 403
    assert not Run.objects.exists() and not Job.objects.exists()


def test_viewer_cannot_start_jobs_on_a_run(trained_run, make_user, add_member, client_for):
    viewer = make_user("viewer")
    add_member(trained_run.project, viewer, Role.VIEWER)
    url = reverse("classifiers:run_job", args=[trained_run.project_id, trained_run.pk])
    assert client_for(viewer).post(url, {"kind": "predict", "split": "dev"}).status_code == 403
    assert not Job.objects.exists()


def test_annotator_starts_a_pipeline_job(corpus_project, make_user, add_member, client_for):
    annotator = make_user("annie")
    add_member(corpus_project, annotator, Role.ANNOTATOR)
    response = client_for(annotator).post(reverse("classifiers:runs", args=[corpus_project.pk]), start_data())
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("classifiers:run", args=[corpus_project.pk, run.pk])
    assert run.params == {"C": 4} and run.shots == 2 and run.seed == 5 and run.created_by == annotator
    job = Job.objects.get()
    assert (job.kind, job.target_type, job.target_id, job.params["split"]) == ("pipeline", "run", run.pk, "test")


def test_start_form_shows_errors_without_creating(corpus_project, owner, client_for):
    response = client_for(owner).post(reverse("classifiers:runs", args=[corpus_project.pk]), start_data(params="oops"))
    assert response.status_code == 200
    assert b"KEY=VALUE" in response.content
    assert not Run.objects.exists()


def test_get_never_starts_anything(corpus_project, owner, client_for):
    client_for(owner).get(reverse("classifiers:runs", args=[corpus_project.pk]), start_data())
    assert not Run.objects.exists()


def test_run_and_prediction_pages_render(trained_run, owner, client_for):
    client = client_for(owner)
    pid = trained_run.project_id
    page = client.get(reverse("classifiers:run", args=[pid, trained_run.pk]))
    assert page.status_code == 200 and b"12 predictions" in page.content
    listing = client.get(reverse("classifiers:predictions", args=[pid, trained_run.pk]) + "?order=margin")
    assert listing.status_code == 200
    assert listing.content.count(b'class="badge valid"') + listing.content.count(b'class="badge invalid"') == 12
    assert b"Sports" in listing.content or b"Food" in listing.content


def test_metrics_page_escapes_label_and_run_names(trained_run, owner, client_for):
    Node.objects.filter(taxonomy=trained_run.project.taxonomy, name="Sports").update(name=XSS)
    Run.objects.filter(pk=trained_run.pk).update(name=f"run {XSS}")
    response = client_for(owner).get(reverse("classifiers:metrics", args=[trained_run.project_id]), {"level": 1})
    body = response.content.decode()
    assert response.status_code == 200
    assert XSS not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert 'id="per-level-plot"' in body and 'id="confusion-plot"' in body and 'id="shots-plot"' in body
    assert "style=" not in body and "<script>" not in body.replace('<script type="module"', "")


def test_metrics_table_compares_selected_runs(trained_run, corpus_project, owner, client_for):
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    other = run_create(project=corpus_project, strategy="tfidf", shots=1, seed=9, name="tfidf-k1")
    run_train(run=other)
    run_predict(run=other, split="test")
    run_evaluate(run=other, split="test")
    url = reverse("classifiers:metrics", args=[corpus_project.pk])
    both = client_for(owner).get(url, {"run": [trained_run.pk, other.pk]}).context
    assert [r.pk for r in both["table"]["runs"]] == [other.pk, trained_run.pk]
    keys = [key for _, key, _ in both["table"]["rows"]]
    assert {"micro_f1", "c_macro_f1", "p_micro_f1", "h_f1", "exact_path_accuracy", "consistency"} <= set(keys)
    assert len(both["bars"]["bars"]) == 2 * 2  # 2 levels x 2 runs
    assert len(both["lines"]["series"]) == 1 and len(both["lines"]["labels"]) == 2  # tfidf at shots 1 and 2
    one = client_for(owner).get(url, {"run": [other.pk]}).context
    assert [r.pk for r in one["table"]["runs"]] == [other.pk]


def test_a_second_job_posted_from_an_old_page_is_refused_with_a_message(trained_run, owner, client_for):
    url = reverse("classifiers:run_job", args=[trained_run.project_id, trained_run.pk])
    client = client_for(owner)
    assert client.post(url, {"kind": "predict", "split": "dev"}).status_code == 302
    response = client.post(url, {"kind": "predict", "split": "test"}, follow=True)  # the page before it reloaded
    assert response.status_code == 200 and "on this run is still queued" in response.content.decode()
    assert Job.objects.count() == 1
