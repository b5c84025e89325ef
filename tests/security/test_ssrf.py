"""SSRF neighbours of reliability.md #25, beyond tests/engine/test_llm_netguard.py: every other spelling of an
internal address, names that only end in a dot, NAT64 and 6to4 wrappers, and DNS rebinding between the check
and the connection (the connection is pinned to the checked addresses)."""

from __future__ import annotations

import socket
import threading

import pytest

from classifiers.engine.llm.client import LLMCallError, LLMClient
from classifiers.engine.llm.netguard import UnsafeURLError, check_base_url, pinned_addresses

ALLOW = ["127.0.0.1:8081", "localhost:8081"]


def _dns(monkeypatch, *answers: str, fallback: str = "127.0.0.1"):
    """Fake resolver: each lookup of a non-literal name gets the next answer, then `fallback` forever."""
    queue = list(answers)
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in str(host) else socket.AF_INET, host)
            return real(host, port, *args, **kwargs)  # a literal address: no DNS involved
        except (OSError, TypeError):
            pass
        address = queue.pop(0) if queue else fallback
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "https://0x7f000001/v1",  # hex, one label
        "https://0x7f.0x0.0x0.0x1/v1",
        "https://017700000001/v1",  # octal, one label
        "https://0/v1",
        "https://127.0.0.1./v1",  # trailing dot
        "https://localhost./v1",
        "https://api.localhost./v1",
        "https://%31%32%37.0.0.1/v1",  # percent-encoded host
        "https://[::ffff:7f00:1]/v1",  # IPv4-mapped, hex form
        "https://[::ffff:a9fe:a9fe]/v1",  # mapped metadata address
        "https://[::127.0.0.1]/v1",  # IPv4-compatible (deprecated)
        "https://[64:ff9b::7f00:1]/v1",  # NAT64 of 127.0.0.1
        "https://[64:ff9b::a9fe:a9fe]/v1",  # NAT64 of 169.254.169.254
        "https://[2002:7f00:1::]/v1",  # 6to4 of 127.0.0.1
        "https://[fe80::1%25eth0]/v1",  # link-local with a zone id
        "https://[::]/v1",
        "https://[fd12:3456::1]/v1",  # unique local
        "https://100.64.0.1/v1",  # CGNAT
        "https://192.168.0.10/v1",
        "https://172.31.255.255/v1",
        "https://198.18.0.1/v1",  # benchmarking
        "https://192.0.0.1/v1",
        "https://240.0.0.1/v1",
        "https://255.255.255.255/v1",
        "https://127.0.0.1:443@api.example.com/v1",  # userinfo tricks
        "https://api.example.com\\@127.0.0.1/v1",
        "https://api.example.com#@127.0.0.1/v1",
        "http://127.0.0.1:8081@api.example.com/v1",  # the allow-listed pair used as userinfo
        "https://[::1]:8081/v1",  # the allow-listed port on another loopback spelling
        "http://[::1]:8081/v1",
    ],
)
def test_every_spelling_of_an_internal_target_is_refused(url, monkeypatch):
    _dns(monkeypatch, fallback="93.184.215.14")  # names resolve to a public address: the form must decide
    with pytest.raises(UnsafeURLError):
        check_base_url(url, allowed_hosts=ALLOW)


@pytest.mark.parametrize("answer", ["10.0.0.7", "100.64.3.4", "169.254.169.254", "::1", "64:ff9b::a00:7", "fe80::9"])
def test_a_public_looking_name_resolving_inside_is_refused(answer, monkeypatch):
    _dns(monkeypatch, fallback=answer)
    with pytest.raises(UnsafeURLError, match="resolves to"):
        check_base_url("https://llm.example.com/v1", allowed_hosts=ALLOW)
    with pytest.raises(UnsafeURLError):
        pinned_addresses("llm.example.com", 443, allowed_hosts=ALLOW)


def test_pinned_addresses_are_exactly_the_checked_ones(monkeypatch):
    _dns(monkeypatch, "93.184.215.14", fallback="127.0.0.1")
    assert pinned_addresses("llm.example.com", 443, allowed_hosts=ALLOW) == ["93.184.215.14"]
    assert pinned_addresses("127.0.0.1", 8081, allowed_hosts=ALLOW) == ["127.0.0.1"]  # allow-listed


@pytest.fixture
def listener():
    """A TCP socket on 127.0.0.1 that counts the connections it receives (the internal service)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


def test_rebinding_between_the_check_and_the_connection_never_reaches_the_internal_host(monkeypatch, listener):
    """The save-time and request-time checks see a public address; the resolution the connection uses says
    127.0.0.1. The connection is pinned to checked addresses, so it is refused and nothing connects."""
    port, accepted = listener
    _dns(monkeypatch, "93.184.215.14", "93.184.215.14", fallback="127.0.0.1")
    client = LLMClient(
        base_url=f"https://rebind.example:{port}/v1", model="m", allowed_hosts=[], max_retries=0, sleep=lambda s: 0
    )
    with pytest.raises(LLMCallError) as err:
        client.complete([{"role": "user", "content": "hi"}])
    assert err.value.kind == "unsafe_url"
    assert accepted == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        "base_url=https://attacker.example/v1",
        'stages=[{"strategy": "tfidf"}, {"strategy": "llm-dl", "params": {"base_url": "https://attacker.example/v1"}}]',
        'allowed_hosts=["169.254.169.254:80"]',
        "api_key=sk-someone-elses",
    ],
)
def test_run_parameters_cannot_choose_where_llm_calls_go(params, worlds, clients):
    """Only owners set the endpoint; an annotator starting a run cannot point it (or a cascade stage) at a
    host of their choosing, which would receive the project's documents."""
    from django.urls import reverse

    from classifiers.models import Run

    alpha, _ = worlds
    before = Run.objects.count()
    strategy = "cascade" if params.startswith("stages=") else "llm-dl"
    data = {"strategy": strategy, "shots": "0", "seed": "1", "split": "test", "name": "exfil", "params": params}
    response = clients["annotator"].post(reverse("classifiers:runs", args=[alpha.project.pk]), data)
    assert response.status_code == 200
    assert "cannot be a run parameter" in response.content.decode()
    assert Run.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("hierverb", "encoder_path=/etc"),
        ("embed", "cache_dir=/tmp/../../var/www"),
        ("zeroshot", "model_path=/root/.ssh"),
        ("cascade", 'stages=[{"strategy": "embed", "params": {"cache_dir": "/"}}]'),
    ],
)
def test_run_parameters_cannot_name_paths_on_the_server(strategy, params, worlds, clients):
    from django.urls import reverse

    from classifiers.models import Run

    alpha, _ = worlds
    data = {"strategy": strategy, "shots": "0", "seed": "1", "split": "test", "name": "paths", "params": params}
    response = clients["annotator"].post(reverse("classifiers:runs", args=[alpha.project.pk]), data)
    assert response.status_code == 200 and "the operator sets model and cache paths" in response.content.decode()
    assert not Run.objects.filter(name="paths").exists()
