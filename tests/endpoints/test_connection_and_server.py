"""Test connection (one bounded call: model, format, latency) and the supervised local LLM server."""

from __future__ import annotations

import json
import sys

import pytest
from django.urls import reverse

from endpoints.services import endpoint_save, endpoint_test
from htc_app.llm_server import BACKOFF_FIRST, LLMSupervisor, status_read
from tests.endpoints.fake_llm import FakeLLM


def _point_at(project, owner, fake, settings):
    settings.HTC_LLM_ALLOWED_HOSTS = [fake.host_port]
    return endpoint_save(project=project, actor=owner, base_url=fake.base_url, model="tiny", api_key="")


@pytest.mark.django_db
def test_test_connection_makes_one_call_and_reports_model_format_and_latency(project, owner, settings, client_for):
    with FakeLLM(default='{"answer": "OK"}') as fake:
        _point_at(project, owner, fake, settings)
        response = client_for(owner).post(reverse("endpoints:test", args=[project.pk]))
        assert len(fake.chat_requests()) == 1
    html = response.content.decode()
    assert response.status_code == 200
    assert "Connected to" in html and "the server answered as model" in html
    assert '<code id="endpoint-test-model"><bdi>tiny</bdi></code>' in html  # the fake names the model it was asked for
    assert "configured:" not in html  # ... so no mismatch is flagged
    assert '<code id="endpoint-test-format">json_schema</code>' in html and " ms</span> (" in html


@pytest.mark.django_db
def test_test_connection_reports_the_model_the_server_names_not_the_configured_one(project, owner, settings):
    listing = {"object": "list", "data": [{"id": "served-7b", "object": "model", "owned_by": "llamacpp"}]}
    with FakeLLM(default='{"answer": "OK"}', models=listing, reply_model="served-7b") as fake:
        _point_at(project, owner, fake, settings)
        outcome = endpoint_test(project=project)
    assert outcome["ok"] is True, outcome
    assert (outcome["model"], outcome["server_model"], outcome["listed_models"]) == ("tiny", "served-7b", ["served-7b"])
    assert (outcome["server"], outcome["format"]) == ("llama.cpp", "json_schema")
    assert outcome["latency_ms"] >= 0


@pytest.mark.django_db
def test_test_connection_to_a_server_that_answers_500_says_why_without_retrying(project, owner, settings):
    with FakeLLM(script=[("status", 500, {})] * 5) as fake:
        _point_at(project, owner, fake, settings)
        outcome = endpoint_test(project=project)
        calls = len(fake.chat_requests())
    assert outcome["ok"] is False and outcome["latency_ms"] >= 0
    assert "500" in outcome["error"] or "server" in outcome["error"]
    assert calls <= 3  # no retries; at most the client's own format fallbacks


@pytest.mark.django_db
def test_the_test_button_is_for_owners_only(project, make_user, add_member, client_for):
    from projects.models import Role

    annotator = make_user("ann")
    add_member(project, annotator, Role.ANNOTATOR)
    assert client_for(annotator).post(reverse("endpoints:test", args=[project.pk])).status_code == 403


class FakeProc:
    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        return self.returncode

    def terminate(self):
        self.returncode = -15

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -9


def test_the_supervisor_restarts_a_dead_server_with_a_growing_back_off(tmp_path):
    now = [0.0]
    procs: list[FakeProc] = []
    up = {"ready": False}
    lines: list[str] = []

    def popen(cmd):
        procs.append(FakeProc(100 + len(procs)))
        return procs[-1]

    sup = LLMSupervisor(
        ["llama"],
        base_url="http://127.0.0.1:8081/v1",
        data_dir=tmp_path,
        log=lines.append,
        clock=lambda: now[0],
        popen=popen,
        ready=lambda url: up["ready"],
    )
    sup.start()
    assert sup.state == "starting" and status_read(tmp_path)["state"] == "starting"
    up["ready"] = True
    assert sup.tick() == "running"
    # It dies (the general protection fault of the issue): restart after 1 s, then 2 s, then 4 s.
    waits = []
    for _ in range(3):
        procs[-1].returncode = -11
        up["ready"] = False
        assert sup.tick() == "restarting"
        status = status_read(tmp_path)
        assert "exit code -11, SIGSEGV" in status["message"] and "restarting in" in status["message"]
        assert "make rebuild-llm" in status["message"]  # the likely cause of a native crash, and the remedy
        waits.append(sup.backoff)
        now[0] += sup.backoff - 0.5
        assert sup.tick() == "restarting"  # not before the back-off is over
        now[0] += 0.5
        assert sup.tick() == "starting"
        up["ready"] = True
        assert sup.tick() == "running"
    assert waits == [BACKOFF_FIRST, 2 * BACKOFF_FIRST, 4 * BACKOFF_FIRST]
    assert len(procs) == 4 and sup.restarts == 3
    assert any("Local LLM server: restarting." in line for line in lines)  # what `make run` prints
    sup.stop()
    assert status_read(tmp_path)["state"] == "stopped"


def test_the_supervisor_runs_a_real_process_and_notices_it_exit(tmp_path):
    sup = LLMSupervisor(
        [sys.executable, "-c", "import sys; sys.exit(3)"],
        base_url="http://127.0.0.1:9/v1",
        data_dir=tmp_path,
        log=lambda line: None,
        ready=lambda url: False,
    )
    sup.start()
    sup.proc.wait(timeout=30)
    assert sup.tick() == "restarting"
    assert "exit code 3" in json.loads((tmp_path / "llm_server.json").read_text())["message"]


@pytest.mark.django_db
def test_the_endpoint_page_shows_the_local_servers_state(project, owner, settings, client_for, tmp_path):
    settings.HTC_DATA_DIR = tmp_path
    sup = LLMSupervisor(
        ["x"],
        base_url=settings.HTC_LLM_BASE_URL,
        data_dir=tmp_path,
        log=lambda line: None,
        popen=lambda cmd: FakeProc(1),
        ready=lambda url: False,
    )
    sup.start()
    sup.proc.returncode = -11
    sup.tick()
    html = client_for(owner).get(reverse("endpoints:settings", args=[project.pk])).content.decode()
    assert "Local LLM server: restarting." in html and "exit code -11" in html


# A stand-in LLM server process: answers every GET until the flag file exists, then the GETs whose path starts
# with the given prefix hang (alive, silent). Prefix "/": a hung server. Prefix "/v1/": llama-cpp-python busy with a
# long completion (its web layer answers /openapi.json at once; /v1/models waits for the model's lock).
STANDIN_SERVER = """
import json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, flag, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        while self.path.startswith(prefix) and os.path.exists(flag):
            time.sleep(0.05)
        body = json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""


def _tick_until(sup, state: str, seconds: float = 30.0) -> list[str]:
    import time

    seen = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.append(sup.tick())
        if seen[-1] == state:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"never {state}: {seen[-5:]}")


@pytest.mark.django_db
def test_the_supervisor_restarts_a_server_that_hangs_and_the_endpoint_page_says_so(
    project, owner, settings, client_for, tmp_path
):
    from htc_app.llm_server import free_port

    settings.HTC_DATA_DIR = tmp_path
    port, flag = free_port(), tmp_path / "hang"
    sup = LLMSupervisor(
        [sys.executable, "-c", STANDIN_SERVER, str(port), str(flag), "/"],
        base_url=f"http://127.0.0.1:{port}/v1",
        data_dir=tmp_path,
        log=lambda line: None,
        health_interval=0.1,
        health_timeout=0.3,
        health_failures=3,
    )
    try:
        sup.start()
        _tick_until(sup, "running")
        first = sup.proc
        for _ in range(5):  # it answers its health probes: nothing happens
            assert sup.tick() == "running"
        flag.touch()  # the process lives on but stops answering
        seen = _tick_until(sup, "restarting")
        assert "unresponsive" in seen
        assert first.poll() is not None, "the hung process was not stopped"
        status = status_read(tmp_path)
        assert "hung" in status["message"] and "3 times in a row" in status["message"]
        assert f"restarting in {BACKOFF_FIRST:g} s" in status["message"]
        page = client_for(owner).get(reverse("endpoints:settings", args=[project.pk])).content.decode()
        assert "Local LLM server: restarting." in page and "did not answer within 0.3 s" in page
        flag.unlink()
        _tick_until(sup, "running")
        assert sup.proc is not first and sup.proc.poll() is None and sup.restarts == 1
    finally:
        sup.stop()
    assert sup.proc.poll() is not None


def test_one_missed_health_probe_shows_unresponsive_and_an_answer_clears_it(tmp_path):
    now = [0.0]
    up = {"ready": False}
    answers = iter([False, True])
    sup = LLMSupervisor(
        ["x"],
        base_url="http://127.0.0.1:8081/v1",
        data_dir=tmp_path,
        log=lambda line: None,
        clock=lambda: now[0],
        popen=lambda cmd: FakeProc(7),
        ready=lambda url: up["ready"],
        health=lambda url: next(answers),
        health_interval=10,
        health_failures=3,
    )
    sup.start()
    up["ready"] = True
    assert sup.tick() == "running"
    now[0] += 5
    assert sup.tick() == "running"  # no probe before the interval
    now[0] += 5
    assert sup.tick() == "unresponsive"
    assert "1 of 3 checks in a row" in status_read(tmp_path)["message"]
    now[0] += 10
    assert sup.tick() == "running" and sup.restarts == 0


def test_a_server_busy_with_a_long_completion_is_not_taken_for_a_hung_one(tmp_path):
    import time

    from htc_app.llm_server import free_port, server_ready

    port, flag = free_port(), tmp_path / "busy"
    base_url = f"http://127.0.0.1:{port}/v1"
    sup = LLMSupervisor(
        [sys.executable, "-c", STANDIN_SERVER, str(port), str(flag), "/v1/"],
        base_url=base_url,
        data_dir=tmp_path,
        log=lambda line: None,
        health_interval=0.05,
        health_timeout=0.3,
        health_failures=2,
    )
    try:
        sup.start()
        _tick_until(sup, "running")
        first = sup.proc
        flag.touch()  # a completion holds the model: /v1/models stops answering, the process is healthy
        assert not server_ready(base_url, timeout=0.3)
        seen = []
        for _ in range(20):  # well past health_failures probes
            time.sleep(0.06)
            seen.append(sup.tick())
        assert set(seen) == {"running"} and sup.proc is first and first.poll() is None and sup.restarts == 0
    finally:
        flag.unlink(missing_ok=True)
        sup.stop()


def test_make_run_starts_the_local_server_with_the_context_the_setting_names(monkeypatch, settings, tmp_path):
    """`htc_serve` passes HTC_LLM_CONTEXT to llama.cpp as --n_ctx (the size past which prompts fail as too_long) and
    HTC_LLM_FLASH_ATTN as --flash_attn."""
    from htc_app import llm_server
    from htc_app.management.commands.htc_serve import Command

    started = []

    class Recorder:
        def __init__(self, command, **kwargs):
            started.append(command)

        def start(self):
            pass

    monkeypatch.setattr(llm_server, "LLMSupervisor", Recorder)
    settings.HTC_LLM_CONTEXT = 12288
    settings.HTC_DATA_DIR = tmp_path
    command = Command()
    command.start_llm()
    argv = started[0]
    assert argv[argv.index("--n_ctx") + 1] == "12288"
    assert argv[argv.index("--flash_attn") + 1] == "True"
    assert argv[argv.index("--logits_all") + 1] == "False"  # no 1.6 GB of logits for every token of the context
    settings.HTC_LLM_FLASH_ATTN = False
    started.clear()
    command.start_llm()
    assert started[0][started[0].index("--flash_attn") + 1] == "False"
