"""A transport wrapper that bounds the size of LLM responses.

A chat completion is a few kilobytes. An endpoint (misconfigured, compromised or hostile) that answers
with gigabytes would otherwise be read into memory whole by the SDK. The wrapper refuses a declared
Content-Length over the limit and stops a body that streams past it.
"""

from __future__ import annotations

try:
    import httpx2 as httpx
except ImportError:  # older openai SDKs use httpx
    import httpx

DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class ResponseTooLarge(ValueError):
    """The endpoint's response is larger than the client accepts."""


class _BoundedStream(httpx.SyncByteStream):
    def __init__(self, inner, limit: int):
        self.inner = inner
        self.limit = limit

    def __iter__(self):
        received = 0
        for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise ResponseTooLarge(f"the response is larger than {self.limit:,} bytes")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class BoundedTransport(httpx.BaseTransport):
    """Wraps a transport: responses over `limit` bytes (declared or streamed) raise ResponseTooLarge."""

    def __init__(self, inner: httpx.BaseTransport, limit: int = DEFAULT_MAX_RESPONSE_BYTES):
        self.inner = inner
        self.limit = int(limit)

    def handle_request(self, request):
        response = self.inner.handle_request(request)
        declared = response.headers.get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.limit:
            response.close()
            raise ResponseTooLarge(f"the response declares {int(declared):,} bytes; the limit is {self.limit:,}")
        response.stream = _BoundedStream(response.stream, self.limit)
        return response

    def close(self) -> None:
        self.inner.close()
