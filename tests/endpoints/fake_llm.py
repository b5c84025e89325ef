"""An in-test OpenAI-compatible server on 127.0.0.1 that plays scripted answers and faults.

Each script step is one of:
- a string: a 200 chat completion with that content (and usage 10 prompt / 2 completion tokens);
- ("status", code, headers): an error response with a JSON error body containing a marker secret;
- ("error", code, error): an error response whose body is {"error": error} (a real server's own error object);
- ("sleep", seconds): wait, then answer the next step (to trigger client timeouts);
- ("garbage",): a 200 whose body is not JSON;
- ("redirect", location): a 302;
- ("cut", content): a 200 whose answer stopped at max_tokens (finish_reason "length").
When the script runs out, `default` (a callable from the request JSON to content, or a string) answers.
`GET /models` answers `models` (a model list; the default names no server kind) and is recorded too; answers
name `reply_model` as their model (default: the model the request asked for).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BODY_SECRET = "INTERNAL-BODY-SECRET-7731"


class FakeLLM:
    def __init__(
        self,
        script: list | None = None,
        default: str | Callable[[dict], str] = '{"label": "none"}',
        models: dict | None = None,
        reply_model: str | None = None,
    ):
        self.script: list = list(script or [])
        self.models = models if models is not None else {"object": "list", "data": [{"id": "fake", "object": "model"}]}
        self.default = default
        self.reply_model = reply_model  # the `model` its answers name (None: the model the request asked for)
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def model_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/models")]

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def _next_step(self, body: dict):
        with self.lock:
            if self.script:
                return self.script.pop(0)
        return self.default(body) if callable(self.default) else self.default

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, payload: bytes, headers: dict | None = None, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                with fake.lock:
                    fake.requests.append({"path": self.path, "body": {}, "authorization": ""})
                self._send(200, json.dumps(fake.models).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append(
                        {"path": self.path, "body": body, "authorization": self.headers.get("Authorization", "")}
                    )
                step = fake._next_step(body)
                while isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = fake._next_step(body)
                if isinstance(step, tuple) and step[0] == "status":
                    error = {"error": {"message": f"failure {BODY_SECRET}", "type": "server_error"}}
                    return self._send(step[1], json.dumps(error).encode(), step[2] if len(step) > 2 else None)
                if isinstance(step, tuple) and step[0] == "error":
                    return self._send(step[1], json.dumps({"error": step[2]}).encode())
                if isinstance(step, tuple) and step[0] == "garbage":
                    return self._send(200, b"<html>not json " + BODY_SECRET.encode() + b"</html>")
                if isinstance(step, tuple) and step[0] == "redirect":
                    return self._send(302, b"", {"Location": step[1]})
                finish = "stop"
                if isinstance(step, tuple) and step[0] == "cut":
                    step, finish = step[1], "length"
                content = step
                usage = {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
                reply = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": fake.reply_model or body.get("model", "fake"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                    ],
                    "usage": usage,
                }
                self._send(200, json.dumps(reply).encode())

        return Handler


def context_window(tokens: int, answer: str | Callable[[dict], Any], *, chars_per_token: int = 4):
    """A `default` that behaves like llama-cpp-python with `n_ctx = tokens`: a request whose messages come to more
    than that (counted as characters / chars_per_token) gets its HTTP 400 `context_length_exceeded`, with its numbers
    and a marker secret in the message; any other gets `answer`."""

    def reply(body: dict):
        used = sum(len(m.get("content") or "") for m in body.get("messages", [])) // chars_per_token
        if used > tokens:
            wanted = int(body.get("max_tokens") or 0)
            message = (
                f"This model's maximum context length is {tokens} tokens. However, you requested {used + wanted} "
                f"tokens ({used} in the messages, {wanted} in the completion). {BODY_SECRET}"
            )
            error = {"message": message, "type": "invalid_request_error", "code": "context_length_exceeded"}
            return ("error", 400, error)
        return answer(body) if callable(answer) else answer

    return reply
