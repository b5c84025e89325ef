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
    assert "Connected to" in html and "<code>tiny</code>" in html
    assert "response format <code>json_schema</code>" in html and " ms (" in html


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
        assert "exit code -11" in status["message"] and "restarting in" in status["message"]
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
