"""Cold start through the app: taxonomy enrichment, weak runs and their pseudo-label records."""

from __future__ import annotations

import pytest

from classifiers.models import PseudoLabel, Run
from jobs.models import Job
from jobs.runner import run_job_inline
from jobs.services import job_create
from taxonomies.models import Node, TaxonomyChange
from tests.classifiers.conftest import assert_phased
from tests.classifiers.corpus import WORDS

pytestmark = pytest.mark.django_db


def _enrich(project, **params) -> Job:
    job = job_create(kind="taxonomy_enrich", project=project, params=params, target_type="taxonomy")
    return run_job_inline(job, show_progress=False)


def test_enrich_job_stores_each_labels_separating_words_from_the_corpus(corpus_project):
    job = _enrich(corpus_project, top_k=6)
    assert job.state == Job.State.SUCCEEDED, job.error
    assert job.percent == 100 and job.progress_total >= 42
    assert job.result["documents"] == 42 and job.result["updated"] == 9
    for top, leaves in WORDS.items():
        for leaf, words in leaves.items():
            node = Node.objects.get(pk=corpus_project.nodes[(top, leaf)].pk)
            assert node.terms_source == "mined"
            # Most of the leaf's own words, none of another leaf's (the refinement round fixes zero-shot's
            # first mistakes), and no filler shared by every label.
            assert len(set(node.terms) & set(words)) >= 4, (leaf, node.terms)
            others = {w for t, ls in WORDS.items() for lf, ws in ls.items() if lf != leaf for w in ws}
            assert not set(node.terms) & others, (leaf, node.terms)
            assert not set(node.terms) & {"the", "report", "today", "people", "said", "week"}
    change = TaxonomyChange.objects.filter(taxonomy=corpus_project.taxonomy).order_by("-version").first()
    assert change.details["enrich"] == "mined" and change.details["nodes"] == 9


def test_enrich_keeps_terms_a_person_edited_unless_asked_to_replace_them(corpus_project, owner):
    from taxonomies.services import node_update_description

    tennis = corpus_project.nodes[("Sports", "Tennis")]
    node_update_description(node=tennis, description="Racket sport", terms="ball, court", actor=owner)
    job = _enrich(corpus_project, top_k=5)
    assert job.state == Job.State.SUCCEEDED, job.error
    tennis.refresh_from_db()
    assert (tennis.terms, tennis.terms_source) == (["ball", "court"], "edited")
    assert job.result["kept_edited"] == 1
    football = Node.objects.get(pk=corpus_project.nodes[("Sports", "Football")].pk)
    assert football.terms and football.terms_source == "mined"

    job = _enrich(corpus_project, top_k=5, replace_edited=True)
    tennis.refresh_from_db()
    assert tennis.terms_source == "mined" and "ball" not in tennis.terms
    assert set(tennis.terms) & set(WORDS["Sports"]["Tennis"])


# ----- weak runs with a deterministic scorer -----
@pytest.fixture
def keyword_scorer():
    from classifiers.engine.registry import STRATEGIES, register_strategy

    register_strategy("keyword-test", "tests.engine.test_coldstart:KeywordScorer")
    yield
    STRATEGIES.pop("keyword-test", None)


def _give_terms(project, owner, per_leaf: int = 3) -> None:
    """Terms from the corpus vocabulary: a few words per leaf, all its leaves' words per top label."""
    from taxonomies.services import node_update_description

    for top, leaves in WORDS.items():
        node_update_description(
            node=project.nodes[(top,)], description="", terms=[w for ws in leaves.values() for w in ws], actor=owner
        )
        for leaf, words in leaves.items():
            node_update_description(
                node=project.nodes[(top, leaf)], description="", terms=words[:per_leaf], actor=owner
            )


def test_weak_run_records_exactly_the_documents_above_the_threshold(corpus_project, owner, keyword_scorer):
    from classifiers.adapters import label_texts_for
    from classifiers.engine.coldstart import select_pseudo_labels
    from classifiers.services import hierarchy_for_taxonomy, run_create, run_train
    from corpora.models import Document
    from tests.engine.test_coldstart import KeywordScorer

    _give_terms(corpus_project, owner)
    params = {
        "scorer": "keyword-test",
        "base": "tfidf",
        "base_params": {"min_df": 1},
        "threshold": 0.65,
        "enrich": False,
        "min_fraction": 0.0,
    }
    run = run_create(project=corpus_project, strategy="weak", params=params, name="weak", actor=owner)
    docs = list(Document.objects.filter(project=corpus_project).exclude(split="test").order_by("id"))
    assert run.train_document_ids == [d.pk for d in docs]  # no gold label needed, test split left out
    run_train(run=run)

    # The oracle: the same deterministic scorer, fed the taxonomy's terms, on the same documents.
    h = hierarchy_for_taxonomy(corpus_project.taxonomy)
    scores = KeywordScorer(label_texts=label_texts_for(h)).fit([], [], h).predict_scores([d.text for d in docs])
    keep, paths, conf = select_pseudo_labels(scores, h, threshold=0.65)
    assert 0 < len(keep) < len(docs)  # the threshold really splits the documents
    expected = {docs[i].pk: ([int(h.ids[n]) for n in p], c) for i, p, c in zip(keep, paths, conf, strict=True)}
    stored = {p.document_id: (p.path, p.confidence) for p in PseudoLabel.objects.filter(run=run)}
    assert set(stored) == set(expected)
    for pk, (path, c) in expected.items():
        assert stored[pk][0] == path and stored[pk][1] == pytest.approx(c, abs=1e-6) and c >= 0.65
    run.refresh_from_db()
    assert run.state == Run.State.TRAINED
    assert run.stats["pseudo_labels"]["count"] == len(keep) and run.stats["pseudo_labels"]["below_threshold"] == 0
    # the corpus carries gold labels (never trained on): the pseudo-labels' accuracy against them is on record
    gold = {d.pk: [int(n) for n in d.gold_labels.values_list("node__pk", flat=True)] for d in docs}
    right = sum(1 for pk, (path, _) in expected.items() if path[-1] in gold[pk])
    assert run.stats["pseudo_labels"]["with_gold"] == len(keep)
    assert run.stats["pseudo_labels"]["accuracy"] == pytest.approx(right / len(keep))


def test_weak_run_threshold_defaults_to_the_setting(corpus_project, settings):
    from classifiers.services import run_create

    settings.HTC_PSEUDO_LABEL_THRESHOLD = 0.73
    run = run_create(project=corpus_project, strategy="weak", params={"base": "tfidf"}, name="w")
    assert run.params["threshold"] == 0.73


@pytest.mark.parametrize(
    "params, field",
    [({"base": "llm-dl"}, "base"), ({"scorer": "tfidf"}, "scorer"), ({"threshold": 2}, "threshold")],
)
def test_weak_run_refuses_bad_parameters(corpus_project, params, field):
    from django.core.exceptions import ValidationError

    from classifiers.services import run_create

    with pytest.raises(ValidationError) as info:
        run_create(project=corpus_project, strategy="weak", params=params, name="w")
    assert field in info.value.message_dict


def test_weak_run_pages_show_the_pseudo_labelled_documents(corpus_project, owner, keyword_scorer, client_for):
    from classifiers.services import run_create, run_train

    _give_terms(corpus_project, owner)
    params = {"scorer": "keyword-test", "base": "tfidf", "base_params": {"min_df": 1}, "threshold": 0.45}
    run = run_create(project=corpus_project, strategy="weak", params=params, name="weak-ui", actor=owner)
    run_train(run=run)
    labels = list(PseudoLabel.objects.filter(run=run).select_related("document"))
    client = client_for(owner)
    page = client.get(f"/projects/{corpus_project.pk}/classifiers/runs/{run.pk}/").content.decode()
    assert 'id="run-pseudo-labels"' in page and f"{len(labels)} documents" in page
    run.refresh_from_db()
    assert f"exact-path accuracy {run.stats['pseudo_labels']['accuracy']:.3f}" in page
    listing = client.get(f"/projects/{corpus_project.pk}/classifiers/runs/{run.pk}/pseudo-labels/").content.decode()
    assert all(p.document.external_id in listing for p in labels)
    doc = labels[0].document
    detail = client.get(f"/projects/{corpus_project.pk}/documents/{doc.pk}/").content.decode()
    assert 'id="document-pseudo-labels"' in detail and "weak-ui" in detail
    other = PseudoLabel.objects.filter(run=run).values_list("document_id", flat=True)
    unlabelled = corpus_project.documents.exclude(pk__in=list(other)).first()
    plain = client.get(f"/projects/{corpus_project.pk}/documents/{unlabelled.pk}/").content.decode()
    assert "document-pseudo-labels" not in plain


def test_terms_feed_zero_shot_label_texts(corpus_project, owner):
    from classifiers.adapters import hierarchy_for_taxonomy, label_texts_for
    from classifiers.strategies import strategy_hooks
    from taxonomies.services import node_update_description

    football = corpus_project.nodes[("Sports", "Football")]
    node_update_description(node=football, description="Association football", terms="goal, striker", actor=owner)
    h = hierarchy_for_taxonomy(corpus_project.taxonomy)
    texts = label_texts_for(h)
    assert texts == {h.index[football.pk]: "Association football; goal, striker"}

    def with_label_texts(strategy, params, hierarchy):
        return strategy_hooks(strategy).estimator_params(params, hierarchy)

    assert with_label_texts("zeroshot", {}, h)["label_texts"] == texts
    assert with_label_texts("hierverb", {}, h)["label_texts"] == texts
    assert with_label_texts("llm-dl", {}, h)["use_descriptions"] is True
    weak = with_label_texts("weak", {"base": "hierverb"}, h)
    assert weak["zeroshot_params"]["label_texts"] == texts and weak["base_params"]["label_texts"] == texts
    # A run that sets its own label texts keeps them.
    assert with_label_texts("zeroshot", {"label_texts": {}}, h)["label_texts"] == {}


def test_enriched_terms_make_zero_shot_runs_more_accurate(corpus_project, owner):
    from classifiers.services import run_create, run_evaluate, run_predict, run_train

    assert _enrich(corpus_project, top_k=6).state == Job.State.SUCCEEDED
    accuracy = {}
    for name, params in (("names-only", {"label_texts": {}}), ("with-terms", {})):
        run = run_create(project=corpus_project, strategy="zeroshot", params=params, name=name, actor=owner)
        run_train(run=run)
        run_predict(run=run, split="test")
        accuracy[name] = run_evaluate(run=run, split="test").metrics["exact_path_accuracy"]
    assert accuracy["with-terms"] > accuracy["names-only"]


def test_weak_run_from_the_command_line(corpus_project, owner, keyword_scorer):
    import io

    from django.core.management import call_command

    _give_terms(corpus_project, owner)
    out = io.StringIO()
    args = ["--project", corpus_project.name, "--strategy", "weak", "--shots", "0", "--run", "weak-cli"]
    args += ["--param", "scorer=keyword-test", "--param", "base=tfidf", "--param", 'base_params={"min_df": 1}']
    call_command("htc_train", *args, "--param", "threshold=0.65", "--no-progress", stdout=out)
    run = Run.objects.get(name="weak-cli")
    assert run.state == Run.State.TRAINED and run.params["threshold"] == 0.65
    assert PseudoLabel.objects.filter(run=run).count() == run.stats["pseudo_labels"]["count"] > 0
    below = sum(p.confidence < 0.65 for p in PseudoLabel.objects.filter(run=run))
    assert below == run.stats["pseudo_labels"]["below_threshold"]  # the min_fraction fallback is on record


def test_a_weak_run_job_names_its_pseudo_labelling_and_training_steps(corpus_project, owner, keyword_scorer, reports):
    from classifiers.services import run_create

    _give_terms(corpus_project, owner)
    params = {"scorer": "keyword-test", "base": "tfidf", "base_params": {"min_df": 1}, "threshold": 0.5}
    params["enrich"] = False
    run = run_create(project=corpus_project, strategy="weak", params=params, name="weak", actor=owner)
    job = job_create(
        kind="train", project=corpus_project, params={"run_id": run.pk}, target_type="run", target_id=run.pk
    )
    job = run_job_inline(job, show_progress=False)
    messages = assert_phased(job, reports, ["train"])
    scoring = [i for i, m in enumerate(messages) if "Pseudo-labelling: scoring" in m and "with keyword-test" in m]
    training = [i for i, m in enumerate(messages) if "Training tfidf on" in m and "pseudo-labelled documents" in m]
    assert scoring and training and scoring[0] < training[0]
    assert job.percent == 100
