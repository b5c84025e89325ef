"""An LLM run through the app: the project's endpoint is used, the key stays secret, tokens are counted."""

import json
from pathlib import Path

import pytest

from tests.endpoints.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_answer_cache(settings, tmp_path):
    """Each test its own data dir, so its LLM answer cache starts empty (another test, or an earlier pytest run
    against the same data dir, may have cached the very same prompt: then no request would reach the fake)."""
    settings.HTC_DATA_DIR = tmp_path


def test_llm_run_uses_project_endpoint_and_records_usage(corpus_project, owner, settings):
    from classifiers.models import Prediction
    from classifiers.services import run_create, run_predict, run_train
    from endpoints.services import endpoint_save

    secret = "sk-test-SECRET-abcd1234"
    with FakeLLM(default='{"label": "Football"}') as fake:
        settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
        endpoint_save(
            project=corpus_project,
            actor=owner,
            base_url=fake.base_url,
            model="fake-model",
            api_key=secret,
            price_in_per_1k=1,
            price_out_per_1k=2,
        )
        run = run_create(project=corpus_project, strategy="llm-dl", shots=0, seed=1, name="llm", actor=owner)
        run_train(run=run)
        written = run_predict(run=run, split="test")
        requests = fake.chat_requests()
    assert written == 12 and Prediction.objects.filter(run=run).count() == 12
    assert requests and all(r["authorization"] == f"Bearer {secret}" for r in requests)
    football = corpus_project.nodes[("Sports", "Football")]
    preds = list(Prediction.objects.filter(run=run))
    assert all(p.valid and p.consistent for p in preds)
    # The scripted answer is the leaf "Football": its ancestors follow from the taxonomy.
    assert all(p.leaf_node == football.pk and p.paths == [[football.parent_id, football.pk]] for p in preds)
    run.refresh_from_db()
    usage = run.stats["llm"]
    assert usage["documents"] == 12 and usage["calls"] >= 12 and usage["prompt_tokens"] > 0
    assert usage["cost"] > 0
    # The key is never saved with the run or its model.
    assert secret not in json.dumps(run.params) and secret not in json.dumps(run.stats)
    config = (Path(run.model_dir) / "config.json").read_text()
    assert secret not in config
