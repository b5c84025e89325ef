"""Start htc on one machine: the web server, one supervised background worker and the supervised local LLM
server (restarted with a back-off when it dies; its state is printed here and shown on the endpoint page)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

MANAGE = [sys.executable, str(settings.BASE_DIR / "manage.py")]


class Command(BaseCommand):
    help = "Run the web server, a background worker (restarted if it dies) and the local LLM server until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HTC_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("HTC_PORT", "8000")))
        parser.add_argument("--no-llm", action="store_true", help="Do not start the local llama.cpp server.")
        parser.add_argument("--workers", type=int, default=1, help="Background workers (keep 1 on SQLite).")

    def handle(self, *args, **options):
        self.children: dict[str, subprocess.Popen] = {}
        self.commands: dict[str, list[str]] = {}
        self.llm = None
        stop = {"now": False}

        def request_stop(signum, frame):
            stop["now"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)

        if not options["no_llm"]:
            self.start_llm()
        for i in range(max(1, options["workers"])):
            self._start(f"worker-{i + 1}", [*MANAGE, "htc_worker"])
        addr = f"{options['host']}:{options['port']}"
        self._start("web", [*MANAGE, "runserver", addr, "--insecure", "--noreload"])
        url = f"http://{addr}/"
        if self._wait_http(url + "accounts/login/", 30):
            self.stdout.write(self.style.SUCCESS(f"\nhtc is running: open {url}\n"))
        else:
            self.stdout.write(self.style.WARNING(f"The web server did not answer yet; try {url}"))
        self.stdout.write("Press Ctrl-C to stop the web server, the worker and the LLM server.")
        try:
            while not stop["now"]:
                time.sleep(1)
                if self.llm is not None:
                    self.llm.tick()
                for name, proc in list(self.children.items()):
                    if proc.poll() is not None and name.startswith("worker"):
                        self.stdout.write(self.style.WARNING(f"{name} exited ({proc.returncode}); restarting it."))
                        self._start(name, self.commands[name])
                    elif proc.poll() is not None and name == "web":
                        self.stdout.write(self.style.ERROR("The web server stopped."))
                        stop["now"] = True
        finally:
            if self.llm is not None:
                self.llm.stop()
            self._stop_all()

    def start_llm(self) -> None:
        """Start the supervised local llama.cpp server (port from HTC_LLM_BASE_URL, context HTC_LLM_CONTEXT,
        fused attention unless HTC_LLM_FLASH_ATTN is off)."""
        try:
            from htc_app.llm_server import LLMSupervisor, llm_server_command
        except ImportError as exc:
            self.stdout.write(
                self.style.WARNING(f"Local LLM server unavailable ({exc}); LLM strategies need an endpoint.")
            )
            return
        try:
            port = int(settings.HTC_LLM_BASE_URL.rsplit(":", 1)[1].split("/")[0])
        except (IndexError, ValueError):
            port = 8081
        self.llm = LLMSupervisor(
            llm_server_command(
                port=port, n_ctx=int(settings.HTC_LLM_CONTEXT), flash_attn=bool(settings.HTC_LLM_FLASH_ATTN)
            ),
            base_url=f"http://127.0.0.1:{port}/v1",
            data_dir=settings.HTC_DATA_DIR,
            log=lambda line: self.stdout.write(line),
        )
        self.llm.start()

    def _start(self, name: str, command: list[str]) -> None:
        self.commands[name] = command
        self.children[name] = subprocess.Popen(command, start_new_session=True)

    def _stop_all(self) -> None:
        for proc in self.children.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for proc in self.children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        self.stdout.write("Stopped.")

    @staticmethod
    def _wait_http(url: str, seconds: float) -> bool:
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return True
            except Exception:
                time.sleep(0.3)
        return False
