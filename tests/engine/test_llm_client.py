"""The guarded LLM client against a scripted fake OpenAI-compatible server: retries, faults, tokens, cache."""

from __future__ import annotations

import threading
import time

import pytest

from classifiers.engine.llm.client import (
    LLMAuthError,
    LLMCallError,
    LLMClient,
    PromptTooLong,
    cost_of,
    format_for_models_listing,
    parse_retry_after,
)
from tests.endpoints.fake_llm import BODY_SECRET, FakeLLM, context_window

HI = [{"role": "user", "content": "hi"}]


def make_client(fake: FakeLLM, **kwargs) -> tuple[LLMClient, list[float]]:
    sleeps: list[float] = []
    kwargs.setdefault("max_retries", 3)
    client = LLMClient(base_url=fake.base_url, model="m", allowed_hosts=[fake.host_port], sleep=sleeps.append, **kwargs)
    return client, sleeps


def test_429_is_retried_after_the_delay_the_server_asks_for():
    with FakeLLM(script=[("status", 429, {"Retry-After": "7"}), "ok"]) as fake:
        client, sleeps = make_client(fake)
        result = client.complete(HI)
    assert result.text == "ok" and result.attempts == 2
    assert sleeps == [7.0]
    assert client.usage.retries == 1 and client.usage.calls == 1


def test_503_retry_after_is_honoured_and_capped():
    with FakeLLM(script=[("status", 503, {"Retry-After": "9999"}), "ok"]) as fake:
        client, sleeps = make_client(fake, max_backoff=20)
        assert client.complete(HI).text == "ok"
    assert sleeps == [20]


def test_server_errors_are_retried_at_most_three_times_then_fail_without_echoing_the_body():
    with FakeLLM(default=("status", 500)) as fake:
        client, sleeps = make_client(fake)
        with pytest.raises(LLMCallError) as err:
            client.complete(HI)
        assert len(fake.chat_requests()) == 4  # one try + three retries
    assert err.value.kind == "server" and err.value.status == 500
    assert BODY_SECRET not in str(err.value)
    assert len(sleeps) == 3 and sleeps == sorted(sleeps)  # growing backoff


def test_unauthorised_is_not_retried_and_says_so_clearly():
    with FakeLLM(default=("status", 401)) as fake:
        client, sleeps = make_client(fake, api_key="sk-test-123456")
        with pytest.raises(LLMAuthError) as err:
            client.complete(HI)
        assert len(fake.chat_requests()) == 1 and sleeps == []
        assert fake.chat_requests()[0]["authorization"] == "Bearer sk-test-123456"
    assert "API key" in str(err.value) and "sk-test" not in str(err.value)


def test_bad_request_is_not_retried():
    with FakeLLM(default=("status", 400)) as fake:
        client, sleeps = make_client(fake)
        with pytest.raises(LLMCallError) as err:
            client.complete(HI)  # no schema: nothing to fall back from
        assert err.value.kind == "bad_request" and len(fake.chat_requests()) == 1 and sleeps == []


def test_a_timeout_is_retried_and_then_reported_as_a_timeout():
    with FakeLLM(default=("sleep", 1.0)) as fake:
        client, sleeps = make_client(fake, timeout=0.2, max_retries=1)
        started = time.monotonic()
        with pytest.raises(LLMCallError) as err:
            client.complete(HI)
    assert err.value.kind == "timeout" and len(sleeps) == 1
    assert time.monotonic() - started < 5


def test_a_body_that_is_not_json_is_an_unreadable_response_not_a_crash():
    with FakeLLM(script=[("garbage",), "ok"]) as fake:
        client, _ = make_client(fake)
        assert client.complete(HI).text == "ok"
    with FakeLLM(default=("garbage",)) as fake:
        client, _ = make_client(fake, max_retries=0)
        with pytest.raises(LLMCallError) as err:
            client.complete(HI)
    assert err.value.kind == "bad_response" and BODY_SECRET not in str(err.value)


def test_tokens_and_cost_are_counted_from_usage():
    with FakeLLM(default="ok") as fake:
        client, _ = make_client(fake, price_in_per_1k=2.0, price_out_per_1k=4.0)
        client.complete(HI)
        client.complete([{"role": "user", "content": "again"}])
    usage = client.usage_dict()
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["calls"]) == (20, 4, 2)
    assert usage["cost"] == pytest.approx(20 * 2 / 1000 + 4 * 4 / 1000)
    assert cost_of(1000, 500, 1.0, 2.0) == pytest.approx(2.0)


def test_the_same_prompt_is_answered_from_the_cache_without_a_second_request(tmp_path):
    with FakeLLM(default="first") as fake:
        client, _ = make_client(fake, cache_dir=tmp_path)
        assert client.complete(HI).text == "first"
        again = client.complete(HI)
        assert again.cached and again.text == "first" and len(fake.chat_requests()) == 1
        # A new client with the same disk cache does not call either.
        other, _ = make_client(fake, cache_dir=tmp_path)
        assert other.complete(HI).cached and len(fake.chat_requests()) == 1
    assert client.usage.cache_hits == 1 and client.usage.calls == 1


def test_the_circuit_opens_after_consecutive_failures_and_fails_fast():
    with FakeLLM(default=("status", 500)) as fake:
        client, _ = make_client(fake, max_retries=0, breaker_threshold=2, breaker_cooldown=60)
        for _ in range(2):
            with pytest.raises(LLMCallError):
                client.complete([{"role": "user", "content": str(time.monotonic())}])
        with pytest.raises(LLMCallError) as err:
            client.complete([{"role": "user", "content": "third"}])
        assert err.value.kind == "circuit_open" and len(fake.chat_requests()) == 2


def test_structured_output_falls_back_when_the_server_rejects_json_schema():
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["A", "B"]}}}
    with FakeLLM(script=[("status", 422)], default='{"label": "A"}') as fake:
        client, _ = make_client(fake)
        assert client.complete(HI, schema=schema).format_mode == "json_object"
        # Another client of the same endpoint starts with the format that worked: no second probe.
        other, _ = make_client(fake)
        other.complete([{"role": "user", "content": "other"}], schema=schema)
        formats = [r["body"].get("response_format", {}).get("type") for r in fake.chat_requests()]
    assert formats == ["json_schema", "json_object", "json_object"]
    assert fake.chat_requests()[1]["body"]["response_format"]["schema"] == schema


def test_a_server_error_on_the_first_structured_call_is_probed_as_a_format_problem():
    """llama-cpp-python answers 500 to a json_schema response_format it does not know."""
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["A"]}}}
    with FakeLLM(script=[("status", 500)], default='{"label": "A"}') as fake:
        client, sleeps = make_client(fake)
        assert client.complete(HI, schema=schema).format_mode == "json_object" and sleeps == []
    with FakeLLM(default=("status", 500)) as fake:  # failing whatever the format: retried, format kept
        client, sleeps = make_client(fake, max_retries=1)
        with pytest.raises(LLMCallError):
            client.complete(HI, schema=schema)
        assert client._format_mode == "json_schema" and len(sleeps) == 1


def test_a_prompt_longer_than_the_context_is_told_apart_with_its_numbers_and_keeps_the_format():
    """llama-cpp-python's and OpenAI's 400 `context_length_exceeded`: a final `too_long` error with the window and
    the prompt size (never the body's text), not retried, and not taken for a refused response_format (the next,
    shorter prompt still goes out as json_schema); nor does it count towards the circuit breaker."""
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["A"]}}}
    long = [{"role": "user", "content": "x" * 400}]
    with FakeLLM(default=context_window(50, '{"label": "A"}')) as fake:
        client, sleeps = make_client(fake, breaker_threshold=2)
        for _ in range(3):
            with pytest.raises(PromptTooLong) as err:
                client.complete(long, schema=schema)
        assert client.complete(HI, schema=schema).text == '{"label": "A"}'
        formats = [r["body"].get("response_format", {}).get("type") for r in fake.chat_requests()]
    assert formats == ["json_schema"] * 4 and sleeps == []
    exc = err.value
    assert exc.kind == "too_long" and exc.status == 400
    assert (exc.context_tokens, exc.prompt_tokens) == (50, 100)
    assert (
        str(exc) == "The prompt is longer than the model's context window (100 tokens; the model takes 50) (HTTP 400)."
    )
    assert BODY_SECRET not in str(exc) and client.usage.failures == 3


@pytest.mark.parametrize(
    ("error", "sizes"),
    [
        # llama.cpp's own server (llama-server)
        (
            {
                "message": "the request exceeds the available context size",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": 9000,
                "n_ctx": 8192,
            },
            (8192, 9000),
        ),
        # vLLM: no code, the usual wording
        (
            {
                "message": "This model's maximum context length is 2048 tokens. However, you requested 3000 tokens "
                "(2990 in the messages, 10 in the completion).",
                "type": "BadRequestError",
            },
            (2048, 2990),
        ),
        ({"message": "prompt is too long", "type": "invalid_request_error"}, (None, None)),
    ],
)
def test_other_servers_ways_of_saying_the_prompt_is_too_long_are_recognised(error, sizes):
    with FakeLLM(default=("error", 400, error)) as fake:
        client, _ = make_client(fake)
        with pytest.raises(PromptTooLong) as err:
            client.complete(HI)
    assert (err.value.context_tokens, err.value.prompt_tokens) == sizes


def test_any_other_bad_request_stays_a_bad_request():
    with FakeLLM(
        default=("error", 400, {"message": "temperature must be at most 2", "type": "invalid_request"})
    ) as fake:
        client, _ = make_client(fake)
        with pytest.raises(LLMCallError) as err:
            client.complete(HI)
    assert err.value.kind == "bad_request" and not isinstance(err.value, PromptTooLong)


LLAMA_CPP_PYTHON_MODELS = {
    "object": "list",
    "data": [{"id": "smollm2", "object": "model", "owned_by": "me", "permissions": []}],
}


def test_a_llama_cpp_python_server_is_sent_json_object_with_the_schema_and_never_json_schema():
    """Its server answers json_schema with HTTP 500 (and the retry after that once crashed it): ask right away."""
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["A"]}}}
    with FakeLLM(default='{"label": "A"}', models=LLAMA_CPP_PYTHON_MODELS) as fake:
        client, _ = make_client(fake)
        assert client.complete(HI, schema=schema).format_mode == "json_object"
        other, _ = make_client(fake)  # a second client of the same endpoint: no second probe
        other.complete([{"role": "user", "content": "other"}], schema=schema)
        bodies = [r["body"] for r in fake.chat_requests()]
        assert len(fake.model_requests()) == 1
    assert [b["response_format"] for b in bodies] == [{"type": "json_object", "schema": schema}] * 2


def test_a_recognised_server_failing_is_a_fault_not_a_reason_to_drop_the_schema():
    schema = {"type": "object", "properties": {"label": {"type": "string", "enum": ["A"]}}}
    with FakeLLM(script=[("status", 500)], default='{"label": "A"}', models=LLAMA_CPP_PYTHON_MODELS) as fake:
        client, sleeps = make_client(fake)
        assert client.complete(HI, schema=schema).format_mode == "json_object" and len(sleeps) == 1
        assert [r["body"]["response_format"]["type"] for r in fake.chat_requests()] == ["json_object"] * 2


def test_a_fixed_response_format_is_used_without_probing():
    with FakeLLM(default='{"label": "A"}', models=LLAMA_CPP_PYTHON_MODELS) as fake:
        client, _ = make_client(fake, response_format="text")
        assert client.complete(HI, schema={"type": "object"}).format_mode == "text"
        assert fake.model_requests() == [] and "response_format" not in fake.chat_requests()[0]["body"]
    with pytest.raises(ValueError, match="response_format"):
        LLMClient(base_url="http://127.0.0.1:9/v1", model="m", allowed_hosts=["127.0.0.1:9"], response_format="xml")


def test_the_probe_says_which_server_answers_and_a_dead_server_fails_the_call_as_a_connection_error():
    with FakeLLM(models=LLAMA_CPP_PYTHON_MODELS) as fake:
        client, _ = make_client(fake)
        probe = client.probe()
        assert (probe.server, probe.format_mode, probe.models) == ("llama-cpp-python", "json_object", ("smollm2",))
        port = fake.port
    dead = LLMClient(base_url=f"http://127.0.0.1:{port}/v1", model="m", allowed_hosts=[f"127.0.0.1:{port}"])
    with pytest.raises(LLMCallError) as err:
        dead.probe()
    assert err.value.kind == "connection"


@pytest.mark.parametrize(
    ("owned_by", "server", "mode"),
    [
        ("llamacpp", "llama.cpp", "json_schema"),
        ("vllm", "vllm", "json_schema"),
        ("openai", "openai-compatible", "json_schema"),
    ],
)
def test_servers_are_recognised_from_their_model_listing(owned_by, server, mode):
    probe = format_for_models_listing({"data": [{"id": "x", "object": "model", "owned_by": owned_by}]})
    assert (probe.server, probe.format_mode) == (server, mode)
    assert format_for_models_listing("not a listing").server == "unknown"


def test_the_endpoint_semaphore_bounds_parallel_requests():
    active, peak, lock = [0], [0], threading.Lock()

    def answer(body):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        return "ok"

    with FakeLLM(default=answer) as fake:
        client, _ = make_client(fake, concurrency=2)
        threads = [
            threading.Thread(target=client.complete, args=([{"role": "user", "content": str(i)}],)) for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert peak[0] <= 2 and client.usage.calls == 6


@pytest.mark.parametrize(("value", "expected"), [("3", 3.0), ("0.5", 0.5), ("", None), ("soon", None), (None, None)])
def test_retry_after_header_values(value, expected):
    assert parse_retry_after(value) == expected
