"""The cascade in the new-run form, on the command line and on the run page (stages, ECE, trade-off plot)."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from classifiers.forms import RunForm
from classifiers.models import Prediction, Run
from jobs.models import Job

pytestmark = pytest.mark.django_db
XSS = "<b>bold</b>"


def form_data(**extra):
    return {
        "name": "",
        "strategy": "cascade",
        "shots": 0,
        "seed": 1,
        "corrector": "",
        "params": "",
        "split": "test",
    } | (extra)


def errors_of(form) -> str:
    return json.dumps(form.errors)


def test_form_builds_the_stages_from_the_stage_fields():
    form = RunForm(
        form_data(
            stage1_strategy="tfidf",
            stage1_params="C=4",
            stage1_corrector="crf",
            stage1_threshold="0.7",
            stage2_strategy="llm-tmh",
            stage2_params="k=2",
            review="on",
            review_threshold="0.4",
            params="calibrate=false",
        )
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["params"] == {
        "stages": [
            {"strategy": "tfidf", "params": {"C": 4}, "corrector": "crf", "threshold": 0.7},
            {"strategy": "llm-tmh", "params": {"k": 2}, "corrector": "", "threshold": 0.4},
        ],
        "calibrate": False,
        "confidence": "product",
    }


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "stage1_strategy", "needs at least a first stage"),
        ({"stage1_strategy": "tfidf", "stage2_strategy": "embed"}, "stage1_threshold", "passes documents below"),
        (
            {
                "stage1_strategy": "tfidf",
                "stage1_threshold": "0.5",
                "stage2_strategy": "embed",
                "stage2_threshold": "1",
            },
            "stage2_threshold",
            "is the last stage",
        ),
        (
            {"stage1_strategy": "tfidf", "stage3_strategy": "embed", "stage1_threshold": "0.5"},
            "stage2_strategy",
            "Fill in stage 2",
        ),
        ({"stage1_strategy": "tfidf", "stage1_params": "oops"}, "stage1_params", "KEY=VALUE"),
        ({"strategy": "tfidf", "stage1_strategy": "tfidf"}, "stage1_strategy", "only with the cascade strategy"),
        ({"stage1_strategy": "tfidf", "review": "on", "review_threshold": ""}, "review_threshold", "go to review"),
        ({"params": 'stages=[{"strategy": "nope"}]'}, "params", "Stage 1: unknown strategy 'nope'"),
        ({"params": 'stages=[{"strategy": "tfidf", "threshold": 2}]'}, "params", "Stage 1: threshold must be"),
        ({"params": 'stages=[{"strategy": "tfidf", "colour": 1}]'}, "params", "Stage 1: unknown key(s) colour"),
        ({"params": 'stages=[{"strategy": "cascade"}]'}, "params", "cannot contain a cascade"),
        ({"params": 'stages={"strategy": "tfidf"}'}, "params", "a JSON list"),
        ({"params": 'stages=[{"strategy": "tfidf"}]', "stage1_strategy": "tfidf"}, "params", "not both"),
    ],
)
def test_form_explains_what_is_wrong_with_the_stages(data, field, message):
    form = RunForm(form_data(**data))
    assert not form.is_valid()
    assert message in " ".join(form.errors.get(field, [])), errors_of(form)


def test_cascade_is_started_from_the_form_and_a_run_level_corrector_is_refused(corpus_project, owner, client_for):
    client = client_for(owner)
    url = reverse("classifiers:runs", args=[corpus_project.pk])
    stages = {"stage1_strategy": "tfidf", "stage1_threshold": "0.6", "stage2_strategy": "tfidf", "stage2_params": "C=9"}
    refused = client.post(url, form_data(corrector="crf", **stages))
    assert refused.status_code == 200 and b"corrector per stage" in refused.content
    assert not Run.objects.exists()
    response = client.post(url, form_data(name="c1", **stages))
    run = Run.objects.get()
    assert response.status_code == 302 and run.strategy == "cascade"
    assert [s["threshold"] for s in run.params["stages"]] == [0.6, 0.0]
    assert Job.objects.get().kind == "pipeline"


def test_htc_train_takes_stages_as_a_json_param(corpus_project, capsys):
    name = corpus_project.name
    stages = json.dumps(
        [{"strategy": "tfidf", "threshold": 0.9}, {"strategy": "tfidf", "params": {"C": 10}, "corrector": "crf"}]
    )
    call_command(
        "htc_train", "--project", name, "--strategy", "cascade", "--shots", "0", "--run", "c",
        "--param", f"stages={stages}", "--no-progress",
    )  # fmt: skip
    call_command("htc_predict", "--run", "c", "--split", "test", "--no-progress")
    run = Run.objects.get(name="c")
    assert {s["name"] for s in run.stats["cascade"]["stages"]} == {"1:tfidf", "2:tfidf+crf"}
    decided = set(Prediction.objects.filter(run=run).values_list("stage", flat=True))
    assert decided and decided <= {"1:tfidf", "2:tfidf+crf"}
    counts = run.stats["cascade"]["predict"]["stages"]
    assert counts[0]["routed"] == 12 and counts[0]["decided"] + counts[1]["decided"] == 12
    with pytest.raises(CommandError, match="Stage 2: unknown strategy 'bogus'"):
        call_command(
            "htc_train", "--project", name, "--strategy", "cascade", "--shots", "0", "--run", "bad",
            "--param", 'stages=[{"strategy": "tfidf"}, {"strategy": "bogus"}]',
        )  # fmt: skip


@pytest.fixture
def cascade_run(corpus_project, owner):
    from classifiers.services import run_create, run_predict, run_train

    stages = [{"strategy": "tfidf", "threshold": 0.5}, {"strategy": "tfidf", "params": {"C": 20}, "threshold": 0.3}]
    run = run_create(project=corpus_project, strategy="cascade", params={"stages": stages}, shots=0, name=XSS)
    run_train(run=run)
    run_predict(run=run, split="test")
    return run


def test_run_page_shows_stages_calibration_and_an_escaped_tradeoff_plot(cascade_run, owner, client_for):
    page = client_for(owner).get(reverse("classifiers:run", args=[cascade_run.project_id, cascade_run.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Cascade stages" in html and "ECE before" in html and "<code><bdi>1:tfidf</bdi></code>" in html
    assert 'id="tradeoff-1"' in html and 'id="tradeoff-2"' in html  # stage 1 -> 2, stage 2 -> review
    assert "<polyline" in html and "at threshold 0.50" in html
    assert XSS not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script" not in html.split("<main", 1)[-1] and "style=" not in html


def test_apply_link_prefills_the_new_run_form_with_the_chosen_threshold(cascade_run, owner, client_for):
    from classifiers.tradeoff import threshold_tradeoffs

    first = threshold_tradeoffs(cascade_run)[0]
    row = next(r for r in first["rows"] if r["threshold"] == 0.8)
    query = parse_qs(urlsplit(row["apply_url"]).query)
    assert query["stage1_threshold"] == ["0.8"] and query["review_threshold"] == ["0.3"]
    assert query["stage2_params"] == ["C=20"]
    form_page = client_for(owner).get(unescape(row["apply_url"]).split("#")[0])
    html = form_page.content.decode()
    inputs = {re.search(r'name="(\w+)"', tag).group(1): tag for tag in re.findall(r"<input[^>]*>", html)}
    assert 'value="0.8"' in inputs["stage1_threshold"] and 'value="0.3"' in inputs["review_threshold"]
    assert inputs["review"].endswith("checked>") and "value=" not in inputs["stage2_threshold"]  # the last stage
    assert re.search(r'<textarea name="stage2_params"[^>]*>\s*C=20</textarea>', html)


def test_tradeoff_of_a_plain_run_uses_its_dev_predictions(trained_run):
    from classifiers.services import run_evaluate, run_predict
    from classifiers.tradeoff import threshold_tradeoffs

    assert threshold_tradeoffs(trained_run) == []  # no dev predictions yet
    run_predict(run=trained_run, split="dev")
    exact = run_evaluate(run=trained_run, split="dev").metrics["exact_path_accuracy"]
    (tradeoff,) = threshold_tradeoffs(trained_run)
    rows = {r["threshold"]: r for r in tradeoff["rows"]}
    assert rows[0.0]["escalated"] == 0.0 and abs(rows[0.0]["accuracy"] - exact) < 1e-9
    assert rows[1.0]["escalated"] == 1.0 and rows[1.0]["accuracy"] == 1.0
    escalated = [r["escalated"] for r in tradeoff["rows"]]
    assert escalated == sorted(escalated)
    query = parse_qs(urlsplit(rows[0.5]["apply_url"]).query)
    assert query["stage1_strategy"] == ["tfidf"] and query["review"] == ["1"] and query["review_threshold"] == ["0.5"]


def test_predictions_page_says_which_stage_decided(cascade_run, owner, client_for):
    page = client_for(owner).get(reverse("classifiers:predictions", args=[cascade_run.project_id, cascade_run.pk]))
    html = page.content.decode()
    stages = set(Prediction.objects.filter(run=cascade_run).values_list("stage", flat=True))
    assert "Decided by" in html and stages and all(f"<code>{stage}</code>" in html for stage in stages)
