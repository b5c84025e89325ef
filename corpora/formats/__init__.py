"""Corpus file formats: one module per format, registered by name (see `registry`).

Importing this package registers every built-in reader and writer.
"""

from corpora.formats import csv_format, jsonl_format, txt_format, zip_format  # noqa: F401  (registration)
from corpora.formats.base import FormatError, Record, RecordError
from corpora.formats.registry import READERS, WRITERS, ExportRow, read_records, reader_name_for

__all__ = ["READERS", "WRITERS", "ExportRow", "FormatError", "Record", "RecordError", "read_records", "reader_name_for"]
