"""Upload handling with a hard per-request byte limit (Django itself has no per-file maximum)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict


class UploadTooLarge(Exception):
    """Raised when an upload exceeds HTC_MAX_UPLOAD_BYTES."""


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams uploads to a temporary file and stops once HTC_MAX_UPLOAD_BYTES is passed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.HTC_MAX_UPLOAD_BYTES + 1024 * 1024:
            # Refused on the declared length, before a byte is read. Django does not catch StopUpload here
            # (only while receiving chunks: raising it gave a 500), but a returned (POST, FILES) pair ends
            # the parsing: the view sees no data and the flag, and answers 413.
            self.request.upload_too_large = True
            return QueryDict(), MultiValueDict()
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.HTC_MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            self.file.close()
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
