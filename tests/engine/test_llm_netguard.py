"""SSRF guard on LLM base URLs: internal targets refused in every spelling, allow-listed hosts accepted."""

from __future__ import annotations

import socket

import pytest

from classifiers.engine.llm.client import LLMCallError, LLMClient
from classifiers.engine.llm.netguard import UnsafeURLError, check_base_url
from tests.endpoints.fake_llm import FakeLLM

ALLOW = ["127.0.0.1:8081", "localhost:8081"]


def _public_dns(monkeypatch, address: str = "93.184.215.14"):
    def fake_getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "http://169.254.169.254/v1",
        "http://127.0.0.1:6379/v1",  # redis, not allow-listed
        "https://127.0.0.1:6379/v1",
        "https://[::1]/v1",
        "https://[::ffff:127.0.0.1]/v1",  # IPv4-mapped loopback
        "https://2130706433/v1",  # decimal 127.0.0.1
        "https://0x7f.1/v1",  # hex short form
        "https://0177.0.0.1/v1",  # octal
        "https://127.1/v1",
        "https://10.0.0.5/v1",
        "https://100.64.1.1/v1",  # CGNAT
        "https://224.0.0.1/v1",  # multicast
        "https://[fe80::1]/v1",
        "https://[fc00::1]/v1",
        "https://0.0.0.0/v1",
        "https://localhost/v1",
        "http://api.example.com/v1",  # plain http, not allow-listed
        "ftp://api.example.com/v1",
        "https://user:pass@api.example.com/v1",
        "file:///etc/passwd",
        "",
    ],
)
def test_internal_or_unsafe_base_urls_are_refused(url, monkeypatch):
    _public_dns(monkeypatch)
    with pytest.raises(UnsafeURLError):
        check_base_url(url, allowed_hosts=ALLOW)


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    _public_dns(monkeypatch, "10.1.2.3")
    with pytest.raises(UnsafeURLError, match="resolves to a private"):
        check_base_url("https://llm.internal.example/v1", allowed_hosts=ALLOW)


def test_a_name_with_one_private_address_among_public_ones_is_refused(monkeypatch):
    def getaddrinfo(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(UnsafeURLError):
        check_base_url("https://mixed.example/v1", allowed_hosts=ALLOW)


def test_https_to_a_public_host_and_the_allow_listed_local_server_are_accepted(monkeypatch):
    _public_dns(monkeypatch)
    assert check_base_url("https://api.openai.com/v1", allowed_hosts=ALLOW)
    assert check_base_url("http://127.0.0.1:8081/v1", allowed_hosts=ALLOW)
    assert check_base_url("http://LOCALHOST:8081/v1", allowed_hosts=ALLOW)


def test_the_allow_list_is_per_port():
    with pytest.raises(UnsafeURLError):
        check_base_url("http://127.0.0.1:8082/v1", allowed_hosts=ALLOW)


def test_the_client_refuses_at_call_time_when_dns_changed_since_saving(monkeypatch):
    """Save-time check passes on a public answer; the next resolution (rebinding) gives 127.0.0.1."""
    answers = iter(["93.184.215.14", "127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.1"), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    client = LLMClient(base_url="https://rebind.example/v1", model="m", allowed_hosts=ALLOW, sleep=lambda s: None)
    with pytest.raises(LLMCallError) as err:
        client.complete([{"role": "user", "content": "hi"}])
    assert err.value.kind == "unsafe_url"


def test_redirects_are_not_followed():
    with FakeLLM(script=[("redirect", "http://169.254.169.254/latest")]) as fake:
        client = LLMClient(base_url=fake.base_url, model="m", allowed_hosts=[fake.host_port], max_retries=0)
        with pytest.raises(LLMCallError) as err:
            client.complete([{"role": "user", "content": "hi"}])
        assert err.value.status == 302
        assert len(fake.requests) == 1
