"""SSRF guard for LLM base URLs: the server sends a user's API key to a user-chosen host.

A base URL is allowed when either
- its `host:port` is on the operator allow-list (the local llama.cpp server, a vLLM on the LAN), or
- it is https, its host is a canonical name or IP literal, and every address it resolves to is a
  public unicast address (no private, loopback, link-local, CGNAT, reserved, multicast or
  unspecified ranges, IPv4 or IPv6, IPv4-mapped IPv6 included).

Numeric host spellings that resolvers read differently (`2130706433`, `0x7f.1`, `017700000001`,
`127.1`) are refused outright rather than interpreted. The check runs when an endpoint is saved
and again before every request (see `client.py`), the connection goes to the very addresses that were
checked (`pinned_network_backend`: no second DNS answer for a rebinding server to change), and redirects
are never followed.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from classifiers.engine.config import engine_config

# As in the WHATWG URL parser, a host whose last label is a number (decimal, or hex with 0x) is an
# IPv4 address in some spelling; only the canonical dotted quad is accepted, every other spelling
# (2130706433, 0x7f.1, 0177.0.0.1, 127.1) is refused rather than interpreted.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_CANONICAL_QUAD = re.compile(
    r"^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$"
)
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$", re.I
)


class UnsafeURLError(ValueError):
    """The base URL points somewhere the server must not send requests (or keys) to."""


def configured_allowed_hosts() -> list[str]:
    """The operator allow-list the engine was configured with (HTC_LLM_ALLOWED_HOSTS; engine/config.py)."""
    return list(engine_config().llm_allowed_hosts)


def _host_port_key(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _normalise_allowed(entries: Iterable[str]) -> set[str]:
    return {e.strip().lower() for e in entries if e and e.strip()}


def is_public_address(address: str) -> bool:
    """True for a public unicast IP address; False for every internal or special-purpose range."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return is_public_address(str(embedded))
        if ip.teredo is not None or ip.is_site_local:
            return False
    elif ip in _CGNAT:
        return False
    special = (
        ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified
    )
    return bool(ip.is_global and not special)


def check_base_url(url: str, *, allowed_hosts: Iterable[str] | None = None, resolve: bool = True) -> str:
    """Validate an LLM base URL; return it unchanged, or raise `UnsafeURLError` saying why.

    `allowed_hosts` lists operator-approved `host:port` pairs (plain http is allowed only for
    those, and they skip the address checks). `resolve=False` skips DNS (form checks only).
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeURLError("The base URL is empty.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeURLError("The base URL contains whitespace or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError("The base URL is not a valid URL.") from exc
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise UnsafeURLError("The base URL must start with https:// (or http:// for an allow-listed host).")
    if parts.username or parts.password:
        raise UnsafeURLError("The base URL must not contain credentials.")
    host = (parts.hostname or "").lower()
    if not host:
        raise UnsafeURLError("The base URL has no host.")
    if parts.query or parts.fragment:
        raise UnsafeURLError("The base URL must not have a query string or fragment.")
    port = port or (443 if scheme == "https" else 80)
    allowed = _normalise_allowed(allowed_hosts if allowed_hosts is not None else configured_allowed_hosts())
    if _host_port_key(host, port) in allowed:
        return url
    if scheme != "https":
        raise UnsafeURLError(
            f"Plain http is allowed only for operator-approved hosts; {_host_port_key(host, port)} is not one "
            "(ask the operator to add it to HTC_LLM_ALLOWED_HOSTS, or use https)."
        )
    literal = _ip_literal(host)
    if literal is None:
        if _looks_numeric(host):
            raise UnsafeURLError("The host is a numeric address in a non-canonical form.")
        if not _HOSTNAME.match(host):
            raise UnsafeURLError("The host name is not valid.")
        bare = host.rstrip(".")
        if bare == "localhost" or bare.endswith(".localhost"):
            raise UnsafeURLError("The host is a loopback name.")
    elif not is_public_address(literal):
        raise UnsafeURLError("The host is a private, loopback, link-local or reserved address.")
    if resolve and literal is None:
        for address in resolve_host(host, port):
            if not is_public_address(address):
                raise UnsafeURLError("The host resolves to a private, loopback, link-local or reserved address.")
    return url


def _ip_literal(host: str) -> str | None:
    """The address if `host` is a canonical IPv4 dotted quad or an IPv6 literal, else None."""
    candidate = host.strip("[]")
    if ":" in candidate:
        try:
            return str(ipaddress.IPv6Address(candidate.split("%", 1)[0]))
        except ValueError as exc:
            raise UnsafeURLError("The host is not a valid IPv6 address.") from exc
    if _CANONICAL_QUAD.match(candidate):
        return candidate
    return None


def _looks_numeric(host: str) -> bool:
    labels = [label for label in host.rstrip(".").split(".")]
    return bool(labels) and bool(_NUMERIC_LABEL.match(labels[-1]))


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to; raises `UnsafeURLError` when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURLError("The host name does not resolve.") from exc
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise UnsafeURLError("The host name does not resolve.")
    return addresses


def pinned_addresses(host: str, port: int, *, allowed_hosts: Iterable[str]) -> list[str]:
    """The addresses to connect to for `host:port`, each checked: the connection itself is pinned to them.

    Checking a name and then letting the HTTP library resolve it again leaves a window in which a
    rebinding DNS server answers a public address to the check and 127.0.0.1 to the connection. Resolving
    once here and connecting to exactly these addresses closes it. Allow-listed `host:port` pairs are
    returned unresolved (the operator vouched for them)."""
    host = host.strip("[]").lower()
    if _host_port_key(host, port) in _normalise_allowed(allowed_hosts):
        return [host]
    addresses = resolve_host(host, port)
    for address in addresses:
        if not is_public_address(address):
            raise UnsafeURLError("The host resolves to a private, loopback, link-local or reserved address.")
    return addresses


def pinned_network_backend(allowed_hosts: Iterable[str]):
    """An httpcore network backend whose every TCP connection goes to an address `pinned_addresses` checked
    (redirect targets and retries included); TLS still verifies the certificate for the host name."""
    try:
        import httpcore2 as httpcore
    except ImportError:  # older stacks use httpcore
        import httpcore

    allowed = list(allowed_hosts)

    class PinnedBackend(httpcore.SyncBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            name = host.decode("ascii") if isinstance(host, bytes) else host
            address = pinned_addresses(name, port, allowed_hosts=allowed)[0]
            return super().connect_tcp(address, port, timeout, local_address, socket_options)

    return PinnedBackend()
