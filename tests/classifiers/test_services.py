"""Services: hierarchy bridge, run creation (pins, sampling), training, idempotent prediction, evaluation."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from classifiers.models import Evaluation, Prediction, Run
from classifiers.services import (
    config_create,
    gold_paths_for,
    hierarchy_for_taxonomy,
    parse_params,
    run_create,
    run_evaluate,
    run_predict,
    run_train,
)
from corpora.models import Document, GoldLabel

pytestmark = pytest.mark.django_db


def test_hierarchy_uses_node_ids_and_parent_links(corpus_project):
    hierarchy = hierarchy_for_taxonomy(corpus_project.taxonomy)
    nodes = corpus_project.nodes
    assert set(hierarchy.ids) == {n.pk for n in nodes.values()}
    football = hierarchy.index[nodes[("Sports", "Football")].pk]
    assert hierarchy.path_label(hierarchy.path_to(football)) == "Sports > Football"
    assert hierarchy.n_levels == 2


def test_gold_paths_follow_document_order(corpus_project):
    hierarchy = hierarchy_for_taxonomy(corpus_project.taxonomy)
    docs = list(Document.objects.filter(project=corpus_project).order_by("-id")[:3])
    paths = gold_paths_for(docs, hierarchy)
    for doc, doc_paths in zip(docs, paths, strict=True):
        node_id = GoldLabel.objects.get(document=doc).node_id
        assert [hierarchy.ids[i] for i in doc_paths[0]][-1] == node_id


def test_parse_params_reads_json_values_and_keeps_strings():
    params = parse_params(["C=4", "ngram_range=[1, 2]", "decode=best_path", "", "# comment", "flag=true"])
    assert params == {"C": 4, "ngram_range": [1, 2], "decode": "best_path", "flag": True}
    with pytest.raises(ValidationError):
        parse_params(["no equals sign"])


def test_run_pins_taxonomy_version_and_samples_k_per_leaf(corpus_project, owner):
    version = corpus_project.taxonomy.version
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=3, actor=owner)
    assert run.taxonomy_version == version > 0
    assert len(run.train_document_ids) == 12  # 6 leaves x 2 shots
    docs = Document.objects.filter(pk__in=run.train_document_ids)
    assert set(docs.values_list("split", flat=True)) == {"train"}
    per_leaf = Counter(GoldLabel.objects.filter(document__in=docs).values_list("node_id", flat=True))
    assert set(per_leaf.values()) == {2}
    assert len(run.dev_document_ids) == 6 and set(
        Document.objects.filter(pk__in=run.dev_document_ids).values_list("split", flat=True)
    ) == {"dev"}
    # The same seed samples the same documents; the sample is stored, not recomputed.
    again = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=3, actor=owner)
    assert again.train_document_ids == run.train_document_ids
    assert again.name != run.name


def test_zero_shots_take_the_whole_training_split(corpus_project):
    run = run_create(project=corpus_project, strategy="tfidf", shots=0, seed=1)
    assert len(run.train_document_ids) == Document.objects.filter(project=corpus_project, split="train").count() == 24


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"strategy": "nope"}, "strategy"), ({"shots": -1}, "shots"), ({"corrector": "magic"}, "corrector")],
)
def test_run_create_rejects_bad_fields(corpus_project, kwargs, field):
    with pytest.raises(ValidationError) as info:
        run_create(project=corpus_project, **{"strategy": "tfidf", **kwargs})
    assert field in info.value.message_dict
    assert not Run.objects.exists()


def test_run_create_needs_labelled_training_documents(project, build_tree):
    build_tree(project, {"A": {"B": {}}})
    with pytest.raises(ValidationError, match="No labelled documents"):
        run_create(project=project, strategy="tfidf")


def test_config_create_refuses_duplicate_names(project, owner):
    config = config_create(project=project, name="base", strategy="tfidf", params={"C": 2}, shots=4, actor=owner)
    assert config.params == {"C": 2}
    with pytest.raises(ValidationError):
        config_create(project=project, name="base", strategy="tfidf")


def test_train_saves_model_atomically_and_records_seconds(corpus_project, model_dir):
    run = run_create(project=corpus_project, strategy="tfidf", shots=2, seed=1)
    run_train(run=run)
    run.refresh_from_db()
    assert run.state == Run.State.TRAINED
    assert run.train_seconds is not None and run.train_seconds >= 0
    assert Path(run.model_dir) == model_dir / f"run-{run.pk}"
    assert (Path(run.model_dir) / "config.json").exists()
    assert [p.name for p in model_dir.iterdir()] == [f"run-{run.pk}"]  # no temp dir left behind


def test_failed_training_marks_the_run_failed(corpus_project, model_dir):
    run = run_create(project=corpus_project, strategy="tfidf", params={"no_such_param": 1}, shots=1, seed=1)
    with pytest.raises(TypeError):
        run_train(run=run)
    run.refresh_from_db()
    assert run.state == Run.State.FAILED
    assert not model_dir.exists() or not any(model_dir.iterdir())


def test_predict_twice_leaves_one_row_per_document(trained_run):
    test_docs = Document.objects.filter(project=trained_run.project, split="test")
    assert Prediction.objects.filter(run=trained_run).count() == test_docs.count() == 12
    assert run_predict(run=trained_run, split="test") == 0
    assert Prediction.objects.filter(run=trained_run).count() == 12
    # Losing some rows (a chunk that died) and predicting again fills exactly the gap.
    Prediction.objects.filter(run=trained_run).order_by("id")[:1].get().delete()
    assert run_predict(run=trained_run, split="test") == 1
    assert Prediction.objects.filter(run=trained_run).count() == 12
    assert (
        Counter(Prediction.objects.filter(run=trained_run).values_list("document_id", flat=True)).most_common(1)[0][1]
        == 1
    )


def test_predictions_store_paths_scores_and_margin(trained_run):
    hierarchy = hierarchy_for_taxonomy(trained_run.project.taxonomy)
    for p in Prediction.objects.filter(run=trained_run):
        assert len(p.paths) == 1 and len(p.paths[0]) == 2
        assert hierarchy.is_valid_path(hierarchy.path_from_ids(p.paths[0])) == p.consistent
        assert len(p.scores) == 2 and all(0.0 <= s <= 1.0 for s in p.scores)
        assert p.margin is not None and 0.0 <= p.margin <= max(p.scores)
        assert p.stage == "tfidf"
        assert p.leaf_node == p.paths[0][-1]


def test_evaluation_stores_all_metrics_well_above_chance(trained_run):
    evaluation = Evaluation.objects.get(run=trained_run, split="test")
    metrics = evaluation.metrics
    for key in [
        "micro_f1",
        "macro_f1",
        "c_micro_f1",
        "c_macro_f1",
        "p_micro_f1",
        "p_macro_f1",
        "h_precision",
        "h_recall",
        "h_f1",
        "exact_path_accuracy",
        "consistency",
    ]:
        assert 0.0 <= metrics[key] <= 1.0, key
    assert [level["level"] for level in metrics["per_level"]] == [1, 2]
    assert evaluation.document_count == 12
    assert metrics["exact_path_accuracy"] >= 0.75  # chance is 1/6
    # per-label F1 is keyed by node id (not the engine's index)
    assert set(map(int, metrics["per_label"])) == {n.pk for n in trained_run.project.nodes.values()}
    # Evaluating again updates the same row.
    run_evaluate(run=trained_run, split="test")
    assert Evaluation.objects.filter(run=trained_run, split="test").count() == 1


def test_evaluate_without_predictions_explains(trained_run):
    with pytest.raises(ValidationError, match="predict it first"):
        run_evaluate(run=trained_run, split="dev")


def test_retraining_clears_stale_predictions(trained_run):
    run_train(run=trained_run)
    assert not Prediction.objects.filter(run=trained_run).exists()
    assert not Evaluation.objects.filter(run=trained_run).exists()


def test_crf_corrector_run_predicts_valid_paths(corpus_project):
    run = run_create(
        project=corpus_project, strategy="tfidf", params={"decode": "argmax"}, shots=2, seed=1, corrector="crf"
    )
    run_train(run=run)
    assert (Path(run.model_dir) / "corrector").is_dir()
    run_predict(run=run, split="test")
    predictions = list(Prediction.objects.filter(run=run))
    assert len(predictions) == 12 and all(p.consistent for p in predictions)
    for p in predictions:
        # raw_paths keeps what the strategy said only where the corrector changed it
        assert p.raw_paths == [] or p.raw_paths != p.paths
