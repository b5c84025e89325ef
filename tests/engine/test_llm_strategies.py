"""DL, DH and TMH on a small taxonomy through a scripted fake server: prompts, answers, records, persistence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from sklearn.base import clone

from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.llm.client import LLMAuthError, SharedPromptTooLong
from classifiers.engine.llm.strategies import LLMDirectHierarchical, LLMDirectLeaf, LLMTopDownMultiStep
from classifiers.engine.registry import load_estimator, make_strategy
from tests.endpoints.fake_llm import FakeLLM, context_window

TREE = [
    {"name": "Science", "children": [{"name": "Physics"}, {"name": "Biology"}]},
    {"name": "Sports", "children": [{"name": "Football"}, {"name": "Tennis"}]},
]
TRAIN = [
    ("Quarks and leptons", ["Science", "Physics"]),
    ("Gravity bends light", ["Science", "Physics"]),
    ("Cells divide", ["Science", "Biology"]),
    ("A goal in extra time", ["Sports", "Football"]),
    ("Match point at Wimbledon", ["Sports", "Tennis"]),
    ("Serve and volley", ["Sports", "Tennis"]),
]


@pytest.fixture
def h() -> Hierarchy:
    return Hierarchy.from_tree(TREE)


def fitted(cls, h, fake, **params):
    params.setdefault("concurrency", 1)
    est = cls(base_url=fake.base_url, **params).set_runtime(allowed_hosts=[fake.host_port])
    return est.fit([t for t, _ in TRAIN], [h.path_from_names(p) for _, p in TRAIN], h)


def user_prompt(request) -> str:
    return request["body"]["messages"][-1]["content"]


def by_document(answers: dict[str, str]):
    """A fake-server answer chosen by the document quoted in the prompt (order-independent)."""

    def answer(body):
        doc = re.findall(r'Document:\n"""\n(.*?)\n"""', body["messages"][-1]["content"], re.S)[-1]
        return answers[doc]

    return answer


def test_dl_prompt_lists_the_leaves_with_paths_and_constrains_the_answer(h):
    with FakeLLM(default='{"label": "Tennis"}') as fake:
        est = fitted(LLMDirectLeaf, h, fake)
        assert est.predict(["Ace on the first serve"]) == [[h.path_from_names(["Sports", "Tennis"])]]
        request = fake.chat_requests()[0]
    prompt = user_prompt(request)
    assert "- Physics [Science > Physics]" in prompt and "- Tennis [Sports > Tennis]" in prompt
    assert "Ace on the first serve" in prompt and "Examples" not in prompt  # zero-shot
    enum = request["body"]["response_format"]["json_schema"]["schema"]["properties"]["label"]["enum"]
    assert enum == ["Physics", "Biology", "Football", "Tennis"]
    assert request["body"]["temperature"] == 0


def test_dh_prompt_shows_the_whole_tree_and_asks_one_label_per_level(h):
    with FakeLLM(default='{"level1": "Science", "level2": "Biology"}') as fake:
        est = fitted(LLMDirectHierarchical, h, fake)
        assert est.predict(["Mitosis"]) == [[h.path_from_names(["Science", "Biology"])]]
        request = fake.chat_requests()[0]
    prompt = user_prompt(request)
    assert "- Science\n  - Physics\n  - Biology\n- Sports\n  - Football" in prompt
    props = request["body"]["response_format"]["json_schema"]["schema"]["properties"]
    assert props["level1"]["enum"] == ["Science", "Sports"]
    assert props["level2"]["enum"] == ["Physics", "Biology", "Football", "Tennis"]


def test_tmh_asks_level_by_level_listing_only_the_children_of_the_chosen_label(h):
    with FakeLLM(script=['{"label": "Sports"}', '{"label": "Football"}']) as fake:
        est = fitted(LLMTopDownMultiStep, h, fake)
        assert est.predict(["Penalty shoot-out"]) == [[h.path_from_names(["Sports", "Football"])]]
        first, second = (user_prompt(r) for r in fake.chat_requests())
    assert "- Science\n- Sports" in first and "Physics" not in first
    assert "- Football\n- Tennis" in second and "Physics" not in second and "Sports" in second
    assert est.tokens_[0]["calls"] == 2 and est.stats_["calls"] == 2


@pytest.mark.parametrize("cls", [LLMDirectLeaf, LLMDirectHierarchical, LLMTopDownMultiStep])
def test_first_messages_are_exactly_what_the_first_call_sends_and_nothing_is_called(h, cls):
    answer = '{"level1": "Sports", "level2": "Tennis"}' if cls is LLMDirectHierarchical else '{"label": "Sports"}'
    with FakeLLM(default=answer) as fake:
        est = fitted(cls, h, fake, k=1)
        offline = est.first_messages("Ace on the first serve")
        assert fake.chat_requests() == []  # sizing a prompt calls nothing
        est.predict(["Ace on the first serve"])
        sent = fake.chat_requests()[0]["body"]["messages"]
    assert offline == sent and "Ace on the first serve" in offline[-1]["content"]


def test_few_shot_examples_are_k_per_class_seeded_and_shown_in_the_prompt(h):
    with FakeLLM(default='{"label": "Physics"}') as fake:
        est = fitted(LLMDirectLeaf, h, fake, k=1, seed=3)
        again = fitted(LLMDirectLeaf, h, fake, k=1, seed=3)
        est.predict(["Neutrinos"])
        prompt = user_prompt(fake.chat_requests()[0])
    assert est.examples_ == again.examples_
    assert len(est.examples_) == 4  # one per leaf
    for i in est.examples_:
        assert TRAIN[i][0] in prompt
    assert '"label": "Tennis"' in prompt


def test_tmh_few_shot_examples_are_chosen_per_class_at_every_level(h):
    with FakeLLM(default='{"label": "Science"}') as fake:
        est = fitted(LLMTopDownMultiStep, h, fake, k=2, seed=1)
    assert set(est.example_groups_) == set(range(len(h)))  # every node is a class at its level
    assert all(len(v) <= 2 for v in est.example_groups_.values())
    assert len(est.example_groups_[h.index["Science"]]) == 2


def test_invalid_answers_are_stored_raw_and_give_no_path(h):
    answers = {"d1": '{"label": "Chemistry"}', "d2": "It is about sports, I think.", "d3": '{"label": "Phys'}
    with FakeLLM(default=by_document(answers)) as fake:
        est = fitted(LLMDirectLeaf, h, fake, concurrency=3)
        assert est.predict(["d1", "d2", "d3"]) == [[], [], []]
    assert est.valid_ == [False, False, False]
    assert [i["raw"] for i in est.invalid_] == [answers["d1"], answers["d2"], answers["d3"]]
    assert [i["reason"] for i in est.invalid_] == ["unknown label", "unknown label", "invalid JSON"]
    assert est.stats_["invalid"] == 3 and est.stats_["prompt_tokens"] == 30


def test_dh_inconsistent_answers_are_kept_as_answered_and_flagged(h):
    with FakeLLM(default='{"level1": "Science", "level2": "Tennis"}') as fake:
        est = fitted(LLMDirectHierarchical, h, fake)
        paths = est.predict(["odd"])
    answered = (h.index["Science"], h.index["Sports > Tennis"])
    assert paths == [[answered]] and not h.is_valid_path(answered)
    assert est.consistent_ == [False] and est.valid_ == [True] and est.stats_["inconsistent"] == 1


def test_dh_repair_trusts_the_deepest_valid_label(h):
    with FakeLLM(default='{"level1": "Science", "level2": "Tennis"}') as fake:
        est = fitted(LLMDirectHierarchical, h, fake, repair=True)
        assert est.predict(["odd"]) == [[h.path_from_names(["Sports", "Tennis"])]]
    assert est.repaired_ == [True] and est.consistent_ == [False]
    assert est.raw_paths_ == [(h.index["Science"], h.index["Sports > Tennis"])]


def test_dh_unknown_label_at_a_lower_level_keeps_the_valid_prefix(h):
    with FakeLLM(default='{"level1": "Sports", "level2": "Curling"}') as fake:
        est = fitted(LLMDirectHierarchical, h, fake)
        assert est.predict(["stones on ice"]) == [[(h.index["Sports"],)]]
    assert est.valid_ == [False] and est.invalid_[0]["level"] == 2


def test_tmh_invalid_second_step_keeps_the_first_level(h):
    with FakeLLM(script=['{"label": "Science"}', "No idea, sorry."]) as fake:
        est = fitted(LLMTopDownMultiStep, h, fake)
        assert est.predict(["?"]) == [[(h.index["Science"],)]]
    assert est.invalid_[0]["raw"] == '{"label": "Science"}\nNo idea, sorry.' and est.invalid_[0]["level"] == 2


def test_a_document_whose_call_keeps_failing_is_marked_failed_and_the_run_goes_on(h):
    def answer(body):
        return ("status", 500) if "bad doc" in body["messages"][-1]["content"] else '{"label": "Biology"}'

    with FakeLLM(default=answer) as fake:
        est = fitted(LLMDirectLeaf, h, fake, max_retries=1)
        est.set_runtime(sleep=lambda s: None)
        paths = est.predict(["good doc", "bad doc", "another"])
    assert paths[0] == paths[2] == [h.path_from_names(["Science", "Biology"])]
    assert paths[1] == [] and est.failed_[1].startswith("server") and est.failed_[0] is None
    assert est.stats_["failed"] == 1 and len(paths) == 3


def test_an_authentication_error_stops_the_run(h):
    with FakeLLM(default=("status", 401)) as fake:
        est = fitted(LLMDirectLeaf, h, fake)
        with pytest.raises(LLMAuthError):
            est.predict(["a", "b"], api_key="sk-wrong-key-0000")


@pytest.mark.parametrize("cls", [LLMDirectLeaf, LLMDirectHierarchical, LLMTopDownMultiStep])
def test_a_label_list_longer_than_the_context_stops_the_run_at_the_first_call(h, cls):
    """Every document's prompt shares the labels and examples: when they alone overflow the model's context, the
    first call says so and no other document is sent; the reason names the way out."""
    answer = '{"label": "Science"}'
    with FakeLLM(default=context_window(60, answer)) as fake:
        est = fitted(cls, h, fake, k=1)
        with pytest.raises(SharedPromptTooLong) as err:
            est.predict(["a", "b", "c", "d"])
        assert len(fake.chat_requests()) == 1
    assert err.value.kind == "too_long" and "context window of 60 tokens" in str(err.value)
    assert f"Every {cls.strategy_name} prompt is at least" in str(err.value) and "k = 1" in str(err.value)
    assert est.stopped_.startswith("too_long: Every") and not any(est.answered_)


def test_a_document_too_long_for_the_context_fails_alone_and_the_run_goes_on(h):
    """The label list fits; one long document does not: only that document fails, as too_long."""
    long_doc = "word " * 400
    with FakeLLM(default=context_window(250, '{"label": "Tennis"}')) as fake:
        est = fitted(LLMDirectLeaf, h, fake, max_doc_chars=4000)
        paths = est.predict(["short", long_doc, "brief"])
    assert paths[0] == paths[2] == [h.path_from_names(["Sports", "Tennis"])] and paths[1] == []
    assert est.failed_[1].startswith("too_long: The prompt is longer than the model's context window")
    assert est.stats_["failed_by_kind"] == {"too_long": 1} and not est.stopped_


def test_tmh_stops_only_for_its_first_question(h):
    """TMH's later questions differ by branch: a too-long one fails that document, the run goes on."""

    def answer(body):
        prompt = body["messages"][-1]["content"]
        if "Biology" in prompt:  # the Science branch's question: padded past the window
            return context_window(10, "")({"messages": [{"content": "x" * 400}]})
        return '{"label": "Science"}' if "Doc one" in prompt else '{"label": "Sports"}'

    with FakeLLM(default=answer) as fake:
        est = fitted(LLMTopDownMultiStep, h, fake)
        paths = est.predict(["Doc one", "Doc two"])
    assert paths[0] == [] and est.failed_[0].startswith("too_long")
    assert est.failed_[1] is None and not est.stopped_


def test_tmh_asks_level_by_level_and_groups_the_documents_under_one_label(h):
    """All first-level questions, then the documents under Science one after another, then those under Sports: the
    prompts of a group agree up to the document (a caching server reads the label list once per group)."""
    first = {"d1": "Science", "d2": "Sports", "d3": "Science", "d4": "Sports"}
    second = {"Science": "Physics", "Sports": "Tennis"}

    def answer(body):
        prompt = user_prompt({"body": body})
        doc = re.findall(r'Document:\n"""\n(.*?)\n"""', prompt, re.S)[-1]
        return json.dumps({"label": second[first[doc]] if "level 2" in prompt else first[doc]})

    with FakeLLM(default=answer) as fake:
        est = fitted(LLMTopDownMultiStep, h, fake)
        paths = est.predict(["d1", "d2", "d3", "d4"])
        asked = [
            (re.search(r"level (\d)", user_prompt(r)).group(1), re.findall(r'"""\n(.*?)\n"""', user_prompt(r))[-1])
            for r in fake.chat_requests()
        ]
    assert asked == [
        ("1", "d1"),
        ("1", "d2"),
        ("1", "d3"),
        ("1", "d4"),
        ("2", "d1"),
        ("2", "d3"),
        ("2", "d2"),
        ("2", "d4"),
    ]
    assert paths == [[h.path_from_names([first[d], second[first[d]]])] for d in ("d1", "d2", "d3", "d4")]
    assert est.stats_["calls_per_doc"] == 2 and all(t["calls"] == 2 for t in est.tokens_)


def test_tmh_cancelled_between_levels_keeps_the_tokens_of_the_level_asked(h):
    """Stopped after the first round: no document is finished, none is reported answered, their first calls count."""
    asked = []

    def answer(body):
        asked.append(1)
        return '{"label": "Science"}'

    with FakeLLM(default=answer) as fake:
        est = fitted(LLMTopDownMultiStep, h, fake)
        est.set_runtime(should_stop=lambda: len(asked) >= 2)
        paths = est.predict(["a", "b"])
        calls = len(fake.chat_requests())
    assert est.stopped_ == "cancelled" and paths == [[], []] and not any(est.answered_)
    assert calls == 2 and [t["calls"] for t in est.tokens_] == [1, 1] and est.stats_["prompt_tokens"] == 20


def test_predict_scores_are_one_hot_per_level_and_uniform_where_the_answer_stops(h):
    with FakeLLM(default=by_document({"x": '{"label": "Tennis"}', "y": "garbage"})) as fake:
        est = fitted(LLMDirectLeaf, h, fake)
        est.predict(["x", "y"])
        scores = est.predict_scores(["x", "y"])  # the answers just given: no second request
        assert len(fake.chat_requests()) == 2 and est.raw_outputs_ == ['{"label": "Tennis"}', "garbage"]
    assert [s.shape for s in scores] == [(2, 2), (2, 4)]
    assert scores[0][0].tolist() == [0.0, 1.0] and scores[1][0].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert np.allclose(scores[1][1], 0.25) and np.allclose(scores[0][1], 0.5)


def test_the_api_key_is_used_but_never_a_parameter_saved_or_cloned(h, tmp_path):
    with FakeLLM(default='{"label": "Physics"}') as fake:
        est = fitted(LLMDirectLeaf, h, fake, k=1)
        est.predict(["a"], api_key="sk-secret-abcd1234")
        assert fake.chat_requests()[0]["authorization"] == "Bearer sk-secret-abcd1234"
        est.save(tmp_path)
    saved = (tmp_path / "config.json").read_text()
    assert "sk-secret" not in saved and "sk-secret" not in json.dumps(est.get_params())
    assert "sk-secret" not in repr(clone(est).__dict__)
    loaded = load_estimator(tmp_path)
    assert isinstance(loaded, LLMDirectLeaf) and loaded.examples_ == est.examples_
    assert loaded.example_texts_ == est.example_texts_ and loaded.get_params() == est.get_params()


def test_registry_names_build_the_three_strategies():
    assert isinstance(make_strategy("llm-dl"), LLMDirectLeaf)
    assert isinstance(make_strategy("llm-dh", repair=True), LLMDirectHierarchical)
    assert isinstance(make_strategy("llm-tmh", k=2), LLMTopDownMultiStep)


def test_template_overrides_render_placeholders_once_and_literally(h):
    template = "Labels:\n{labels}\nText: {document}\n{document.__class__} {unknown}"
    with FakeLLM(default='{"label": "Physics"}') as fake:
        est = fitted(LLMDirectLeaf, h, fake, templates={"dl": template})
        est.predict(["about {labels} and {examples}"])
        prompt = user_prompt(fake.chat_requests()[0])
    assert "Text: about {labels} and {examples}" in prompt  # the document is not expanded again
    assert "{document.__class__} {unknown}" in prompt  # no attribute access, unknown tokens left alone
    assert prompt.startswith("Labels:\n- Physics")


def test_an_answer_cut_off_at_max_tokens_is_invalid_and_says_why(h):
    with FakeLLM(default=("cut", '{"level1": "Sports", "lev')) as fake:
        est = fitted(LLMDirectHierarchical, h, fake, max_tokens=5)
        assert est.predict(["cut"]) == [[]]
        assert fake.chat_requests()[0]["body"]["max_tokens"] == 5
    assert est.invalid_[0]["reason"] == "invalid JSON (the answer was cut off at max_tokens)"
    assert est.invalid_[0]["raw"] == '{"level1": "Sports", "lev'


def test_dh_asks_for_enough_tokens_to_name_every_level_by_default(h):
    with FakeLLM(default='{"level1": "Sports", "level2": "Tennis"}') as fake:
        fitted(LLMDirectHierarchical, h, fake).predict(["a"])
        fitted(LLMDirectLeaf, h, fake).predict(["a"])
        dh, dl = (r["body"]["max_tokens"] for r in fake.chat_requests())
    big = Hierarchy.from_paths([["a" * 30, "b" * 30, "c" * 30, "d" * 30]])
    assert LLMDirectHierarchical().fit([], [], big)._default_max_tokens() > 100
    assert dh >= dl >= 32


def test_a_progress_callback_that_raises_cancels_the_remaining_documents(h):
    class Cancelled(Exception):
        pass

    def progress(done, total):
        if done >= 1:
            raise Cancelled

    with FakeLLM(default='{"label": "Physics"}') as fake:
        est = fitted(LLMDirectLeaf, h, fake)
        with pytest.raises(Cancelled):
            est.predict([f"doc {i}" for i in range(20)], progress=progress)
        assert len(fake.chat_requests()) < 20
