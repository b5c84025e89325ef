"""The sample reverse-proxy config: its limits match the settings, nginx accepts it, and it behaves as documented."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

# Subprocesses on their own SQLite data dirs: nothing here depends on DATABASE_URL, so the PostgreSQL leg
# of `make test` deselects them instead of running them twice.
pytestmark = pytest.mark.db_independent
REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "nginx" / "htc.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
SIZES = {"k": 1024, "m": 1024**2, "g": 1024**3}


def _text() -> str:
    return CONFIG.read_text()


def test_body_limit_matches_the_upload_limit():
    size = re.search(r"^\s*client_max_body_size\s+(\d+)([kmg]?);", _text(), re.M)
    assert size, "client_max_body_size is missing"
    assert int(size.group(1)) * SIZES.get(size.group(2), 1) == settings.HTC_MAX_UPLOAD_BYTES
    env = (REPO / "deploy" / "htc.env.example").read_text()
    assert f"HTC_MAX_UPLOAD_BYTES={settings.HTC_MAX_UPLOAD_BYTES}" in env


def test_the_proxy_sets_the_forwarded_proto_header_django_trusts():
    assert re.search(r"proxy_set_header\s+X-Forwarded-Proto\s+\$scheme;", _text())
    assert re.search(r"proxy_set_header\s+Host\s+\$host;", _text())


def test_only_static_root_is_served_from_disk():
    text = re.sub(r"#.*", "", _text())
    aliases = re.findall(r"location\s+(\S+)\s*{[^}]*?\balias\s+(\S+);", text)
    assert aliases == [("/static/", "/srv/htc/static/")]  # both end in "/": no alias traversal
    assert "root " not in text  # no document root: nothing else on disk is reachable
    for word in ("uploads", "models", "secret_key", "var/"):
        assert word not in text


# ----- with nginx installed: a syntax check, then real requests through it -----
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "htc.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def _prefix(tmp_path: Path, *, http_port: int, https_port: int, upstream_port: int) -> Path:
    """A self-contained nginx prefix running deploy/nginx/htc.conf on local ports; returns nginx.conf."""
    cert, key = _self_signed(tmp_path)
    static = tmp_path / "static"
    (static / "htc").mkdir(parents=True)
    (static / "htc" / "app.css").write_text("body { margin: 0 }\n")
    (tmp_path / "secret_key").write_text("do-not-serve-me\n")  # beside the static folder
    site = _text()
    site = site.replace("/etc/letsencrypt/live/htc.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/htc.example.org/privkey.pem", str(key))
    site = site.replace("/srv/htc/static/", f"{static}/")
    site = site.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};")
    site = re.sub(r"listen \[::\]:\d+[^;]*;", "", site)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    (tmp_path / "htc.conf").write_text(site)
    temp_paths = " ".join(f"{kind}_temp_path {tmp_path}/{kind};" for kind in ("proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;" if os.geteuid() == 0 else ""
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"{user}\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path}/body;\n {temp_paths}\n"
        f" include {tmp_path}/htc.conf;\n}}\n"
    )
    return main


@needs_nginx
def test_nginx_accepts_the_config(tmp_path):
    main = _prefix(tmp_path, http_port=_free_port(), https_port=_free_port(), upstream_port=_free_port())
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


class _Echo(BaseHTTPRequestHandler):
    """The upstream stand-in: answers with the headers it received, as JSON."""

    def do_GET(self):
        body = json.dumps({"path": self.path, "headers": dict(self.headers)}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@needs_nginx
def test_requests_through_nginx_behave_as_documented(tmp_path):
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    http_port, https_port = _free_port(), _free_port()
    main = _prefix(tmp_path, http_port=http_port, https_port=https_port, upstream_port=upstream.server_address[1])
    proc = subprocess.Popen(
        [NGINX, "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    context = ssl._create_unverified_context()

    def https(method, path, headers=None):
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=10)
        conn.request(method, path, headers={"Host": "htc.example.org", **(headers or {})})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    try:
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None and time.time() < deadline, (tmp_path / "error.log").read_text()
                time.sleep(0.1)
        # Static files come from the collectstatic folder, with nosniff.
        status, headers, body = https("GET", "/static/htc/app.css")
        assert status == 200 and body == b"body { margin: 0 }\n"
        assert headers.get("X-Content-Type-Options") == "nosniff"
        # Nothing beside it is reachable: these go to the app (the echo), never to the file.
        for path in ("/static../secret_key", "/static/../secret_key", "/static/..%2fsecret_key"):
            status, _, body = https("GET", path)
            assert b"do-not-serve-me" not in body, path
        # The app is told the request came over https, whatever the client claims.
        status, _, body = https("GET", "/projects/", {"X-Forwarded-Proto": "http"})
        seen = json.loads(body)["headers"]
        assert status == 200 and seen["X-Forwarded-Proto"] == "https" and seen["Host"] == "htc.example.org"
        # A body over HTC_MAX_UPLOAD_BYTES is refused by the proxy before it reaches the app.
        conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=context, timeout=10)
        conn.putrequest("POST", "/projects/1/upload/", skip_host=True)
        conn.putheader("Host", "htc.example.org")
        conn.putheader("Content-Length", str(settings.HTC_MAX_UPLOAD_BYTES + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
        # Plain http is redirected to https.
        conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        conn.request("GET", "/projects/", headers={"Host": "htc.example.org"})
        response = conn.getresponse()
        assert response.status == 301 and response.getheader("Location") == "https://htc.example.org/projects/"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        upstream.shutdown()
