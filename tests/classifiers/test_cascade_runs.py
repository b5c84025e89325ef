"""Cascade runs through the service layer: routing, stage names, LLM usage of routed documents only,
calibration stored with the model and used at prediction time, the review queue order."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from classifiers.engine.registry import STRATEGIES, register_strategy
from tests.classifiers.corpus import WORDS
from tests.endpoints.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db
SECRET = "sk-cascade-SECRET-9876"


@pytest.fixture
def keyword_strategy():
    register_strategy("keyword-test", "tests.classifiers.cascade_strategies:KeywordStage")
    yield
    STRATEGIES.pop("keyword-test", None)


def _top_of(text: str) -> str:
    words = set(text.split())
    return next(top for top, leaves in WORDS.items() if any(words & set(w) for w in leaves.values()))


def _llm_answer(body: dict) -> str:
    """Football for Science documents, a label that does not exist for Food documents."""
    user = body["messages"][-1]["content"]
    doc_words = set(user.split())
    food = {w for words in WORDS["Food"].values() for w in words}
    return '{"label": "no such label"}' if doc_words & food else '{"label": "Football"}'


def test_cascade_run_routes_documents_and_calls_the_llm_only_for_routed_ones(
    corpus_project, owner, settings, keyword_strategy
):
    from classifiers.models import Prediction
    from classifiers.services import run_create, run_predict, run_train
    from corpora.models import Document
    from endpoints.services import endpoint_save
    from review.selectors import review_queue

    stages = [
        {"strategy": "keyword-test", "params": {"sure_tops": ["Sports"]}, "threshold": 0.8},
        {"strategy": "llm-dl", "threshold": 0.5},
    ]
    with FakeLLM(default=_llm_answer) as fake:
        settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
        endpoint_save(project=corpus_project, actor=owner, base_url=fake.base_url, model="fake", api_key=SECRET)
        run = run_create(
            project=corpus_project,
            strategy="cascade",
            params={"stages": stages, "calibrate": False},
            shots=0,
            name="casc",
            actor=owner,
        )
        run_train(run=run)
        at_train = len(fake.chat_requests())
        run_predict(run=run, split="test")
        requests = fake.chat_requests()[at_train:]
    texts = dict(Document.objects.filter(project=corpus_project, split="test").values_list("id", "text"))
    preds = {p.document_id: p for p in Prediction.objects.filter(run=run)}
    assert len(preds) == 12
    expected = {"Sports": "1:keyword-test", "Science": "2:llm-dl", "Food": "review"}
    assert {doc: p.stage for doc, p in preds.items()} == {doc: expected[_top_of(texts[doc])] for doc in preds}
    football = corpus_project.nodes[("Sports", "Football")]
    assert all(p.leaf_node == football.pk for p in preds.values() if p.stage == "2:llm-dl")
    # Only the 8 documents stage 1 was unsure of reached the LLM, and every request holds one of them.
    routed = [t for doc, t in texts.items() if _top_of(t) != "Sports"]
    assert at_train > 0 and requests
    prompts = [r["body"]["messages"][-1]["content"] for r in requests]
    assert all(any(t in prompt for t in routed) for prompt in prompts)
    assert {t for t in routed if any(t in prompt for prompt in prompts)} == set(routed)
    assert all(r["authorization"] == f"Bearer {SECRET}" for r in requests)
    run.refresh_from_db()
    per_stage = run.stats["cascade"]["predict"]["stages"]
    assert [(s["routed"], s["decided"], s["review"]) for s in per_stage] == [(12, 4, 0), (8, 8, 4)]
    assert per_stage[0]["calls"] == 0 and per_stage[1]["calls"] == len(requests)
    assert run.stats["llm"]["documents"] == 8 and run.stats["llm"]["calls"] == len(requests)
    assert run.stats["cascade"]["predict"]["review"] == 4
    # The key is never saved with the run, its stats or the stage models.
    saved = json.dumps(run.params) + json.dumps(run.stats)
    saved += "".join(p.read_text() for p in Path(run.model_dir).rglob("*.json"))
    assert SECRET not in saved
    # Documents sent to human review come first in the review queue.
    queue = [p.stage for p in review_queue(run=run)]
    assert queue[:4] == ["review"] * 4 and "review" not in queue[4:]


def test_review_queue_puts_cascade_review_documents_first_only_for_cascade_runs(corpus_project, owner):
    from classifiers.models import Prediction, Run
    from corpora.models import Document
    from review.selectors import review_queue

    docs = list(Document.objects.filter(project=corpus_project).order_by("id")[:3])
    for strategy in ("cascade", "tfidf"):
        run = Run.objects.create(project=corpus_project, name=f"r-{strategy}", strategy=strategy)
        for doc, stage, margin in zip(docs, ["1:tfidf", "review", "2:llm-dl"], [0.1, 0.9, 0.5], strict=True):
            Prediction.objects.create(run=run, document=doc, stage=stage, margin=margin)
        order = [p.margin for p in review_queue(run=run)]
        assert order == ([0.9, 0.1, 0.5] if strategy == "cascade" else [0.1, 0.5, 0.9])


def test_calibration_temperatures_are_stored_and_used_at_prediction_time(corpus_project, owner, keyword_strategy):
    from classifiers.engine.calibration import apply_temperatures
    from classifiers.models import Prediction
    from classifiers.services import run_create, run_predict, run_train

    # Sure of everything, but wrong about the leaf of every Food document: over-confident at level 2.
    stage = {"strategy": "keyword-test", "params": {"sure_tops": ["Sports", "Science"], "wrong_tops": ["Food"]}}
    run = run_create(project=corpus_project, strategy="cascade", params={"stages": [stage]}, shots=0, name="cal")
    run_train(run=run)
    run.refresh_from_db()
    report = run.stats["cascade"]["stages"][0]
    assert report["ece_after"] < report["ece_before"]
    saved = json.loads((Path(run.model_dir) / "config.json").read_text())["state"]["temperatures"][0]
    assert saved[1] > 1.0  # level 2 was over-confident: flattened
    run_predict(run=run, split="test")
    raw = np.full((1, 6), 0.03 / 5)
    raw[0, 0] = 0.97
    (expected,) = apply_temperatures([raw], [saved[1]])
    leaf_scores = {round(p.scores[1], 4) for p in Prediction.objects.filter(run=run)}
    assert leaf_scores == {round(float(expected[0, 0]), 4)}
