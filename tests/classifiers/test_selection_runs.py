"""ensemble and auto runs in the app: weights and leaderboard on the run page, `htc_train` defaults to auto with a
budget, and multi-path projects get several paths per document from a single-path strategy."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from classifiers.models import Prediction, Run
from classifiers.services import run_create, run_evaluate, run_predict, run_train
from corpora.models import Document, GoldLabel

pytestmark = pytest.mark.django_db
FLAT = {"strategy": "tfidf", "params": {"mode": "flat", "C": 2}}
LOCAL = {"strategy": "tfidf", "params": {"mode": "local", "C": 2}}


def test_ensemble_run_shows_its_fitted_weights_and_takes_the_crf(corpus_project, owner, client_for):
    run = run_create(
        project=corpus_project, strategy="ensemble", params={"members": [FLAT, LOCAL]}, corrector="crf", name="ens"
    )
    run_train(run=run)
    run.refresh_from_db()
    members = run.stats["ensemble"]["members"]
    assert [m["name"] for m in members] == ["tfidf(C=2, mode=flat)", "tfidf(C=2, mode=local)"]
    assert all(m["weight"] >= 0 for m in members) and run.stats["ensemble"]["fitted_on"] == "dev"
    assert run_predict(run=run, split="test") == Document.objects.filter(project=corpus_project, split="test").count()
    evaluation = run_evaluate(run=run, split="test")
    assert (
        evaluation.metrics["exact_path_accuracy"] >= 0.5
        and "exact_path_accuracy_before_correction" in evaluation.metrics
    )
    page = client_for(owner).get(reverse("classifiers:run", args=[corpus_project.pk, run.pk])).content.decode()
    assert 'id="ensemble-weights"' in page and "tfidf(C=2, mode=local)" in page
    assert f"{members[1]['weight']:.3f}" in page


def test_ensemble_without_refit_says_what_its_members_learned_from(corpus_project, owner, client_for):
    Document.objects.filter(project=corpus_project, split="dev").update(split="train")  # no dev: a held-out share
    params = {"members": [FLAT, LOCAL], "refit": False}
    run = run_create(project=corpus_project, strategy="ensemble", params=params, name="ens")
    run_train(run=run)
    run.refresh_from_db()
    stats = run.stats["ensemble"]
    n_train = Document.objects.filter(project=corpus_project, split="train").count()
    assert stats["fitted_on"] == "held-out" and stats["refit"] is False
    assert stats["members_trained_on"] + stats["fit_documents"] == n_train
    page = client_for(owner).get(reverse("classifiers:run", args=[corpus_project.pk, run.pk])).content.decode()
    assert 'id="ensemble-no-refit"' in page
    assert f"trained on the other {stats['members_trained_on']} training documents" in page


def test_auto_run_shows_the_leaderboard_and_why(corpus_project, owner, client_for):
    broken = {"strategy": "tfidf", "params": {"mode": "bogus"}}
    params = {"candidates": [FLAT, LOCAL, broken], "budget_minutes": 5}
    run = run_create(project=corpus_project, strategy="auto", params=params, name="auto")
    run_train(run=run)
    run.refresh_from_db()
    auto = run.stats["auto"]
    assert auto["dev_source"] == "dev" and auto["explanation"].startswith(f"Kept {auto['kept']}")
    statuses = {row["name"]: row["status"] for row in auto["leaderboard"]}
    assert statuses["tfidf(mode=bogus)"].startswith("failed: ValueError: unknown mode 'bogus'")
    assert list(statuses.values()).count("kept") == 1
    page = client_for(owner).get(reverse("classifiers:run", args=[corpus_project.pk, run.pk])).content.decode()
    assert 'id="auto-leaderboard"' in page and "unknown mode &#x27;bogus&#x27;" in page
    assert auto["explanation"].split(":")[0] in page


def test_htc_train_defaults_to_auto_and_takes_a_budget(corpus_project, monkeypatch):
    from classifiers.engine import auto as auto_module

    monkeypatch.setattr(auto_module, "DEFAULT_CANDIDATES", (FLAT, LOCAL, {"strategy": "hierverb"}))
    name = corpus_project.name
    call_command(
        "htc_train", "--project", name, "--shots", "0", "--run", "a", "--budget-minutes", "0.01", "--no-progress"
    )
    run = Run.objects.get(name="a")
    assert run.strategy == "auto" and run.params == {"budget_minutes": 0.01}
    hierverb = next(row for row in run.stats["auto"]["leaderboard"] if row["strategy"] == "hierverb")
    assert hierverb["status"].startswith("skipped: about")
    with pytest.raises(CommandError, match="--strategy auto only"):
        call_command(
            "htc_train", "--project", name, "--strategy", "tfidf", "--shots", "0", "--run", "b", "--budget-minutes", "3"
        )


def test_new_run_form_defaults_to_auto(corpus_project, owner, client_for):
    page = client_for(owner).get(reverse("classifiers:runs", args=[corpus_project.pk])).content.decode()
    assert '<option value="auto" selected>auto</option>' in page


def test_multi_path_project_gets_several_paths_from_tfidf(corpus_project, owner):
    """Documents labelled with two leaves (their words mixed) get two predicted paths; the others one."""
    corpus_project.multi_path = True
    corpus_project.save(update_fields=["multi_path"])
    nodes = corpus_project.nodes
    docs = list(Document.objects.filter(project=corpus_project).order_by("id"))
    leaves = [key for key in nodes if len(key) == 2]
    by_leaf = {
        key: [d for d in docs if GoldLabel.objects.filter(document=d, node=nodes[key]).exists()] for key in leaves
    }
    corpus = docs[0].corpus
    made = []
    for k, key in enumerate(leaves):
        other = leaves[(k + 3) % len(leaves)]
        for split, (a, b) in zip(
            ["train", "train", "train", "dev", "dev", "test", "test"],
            zip(by_leaf[key], by_leaf[other], strict=False),
            strict=False,
        ):
            text = a.text + " " + b.text
            doc = Document.objects.create(
                project=corpus_project,
                corpus=corpus,
                external_id=f"two-{k}-{a.pk}",
                text=text,
                split=split,
                length=len(text),
            )
            GoldLabel.objects.create(document=doc, node=nodes[key])
            GoldLabel.objects.create(document=doc, node=nodes[other])
            made.append(doc)
    run = run_create(project=corpus_project, strategy="tfidf", params={"mode": "flat", "C": 5}, name="multi")
    run_train(run=run)
    run.refresh_from_db()
    assert run.stats["multipath"]["fitted_on"] == "dev" and run.stats["multipath"]["max_paths"] == 2
    run_predict(run=run, split="test")
    counts = {p.document_id: len(p.paths) for p in Prediction.objects.filter(run=run)}
    two = [d.pk for d in made if d.split == "test"]
    assert all(1 <= c <= 2 for c in counts.values())
    assert sum(counts[pk] == 2 for pk in two) >= len(two) // 2
    metrics = run_evaluate(run=run, split="test").metrics
    assert metrics["path_count_accuracy"] >= 0.6 and 0 < metrics["example_f1"] <= 1


@pytest.mark.parametrize(
    ("strategy", "params", "message"),
    [
        ("ensemble", {}, "Member must be a JSON list of 2 to 4"),
        ("ensemble", {"members": [FLAT, {"strategy": "nope"}]}, "Member 2: unknown strategy 'nope'"),
        ("ensemble", {"members": [FLAT, {"strategy": "auto"}]}, "Member 2: 'auto' cannot be nested"),
        ("ensemble", {"members": [FLAT, LOCAL], "weights": [1]}, "weights must be a list"),
        ("ensemble", {"members": [FLAT, LOCAL], "refit": "no"}, "refit must be true"),
        ("auto", {"budget_minutes": 0}, "budget_minutes must be a number"),
        ("auto", {"candidates": [{"strategy": "tfidf", "colour": 1}]}, "Candidate 1: expected an object"),
    ],
)
def test_bad_selection_params_are_refused_at_creation(corpus_project, strategy, params, message):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match=message):
        run_create(project=corpus_project, strategy=strategy, params=params, name="x")
    assert not Run.objects.filter(name="x").exists()
