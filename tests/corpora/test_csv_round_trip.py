"""CSV export and import round-trip every string (issue 21, item 6): CR and LF are quoted, apostrophes are
restored only in htc's own exports, and size-limit errors name the real reason."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from corpora.formats import FormatError, Record
from corpora.formats.csv_format import EXPORT_MARK, write_csv
from corpora.formats.registry import ExportRow
from tests.corpora.helpers import records

# Documents are UTF-8 text without NUL (the importer refuses NUL bytes; PostgreSQL cannot store them).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=60)
LABEL = (
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12)
    .map(str.strip)
    .filter(lambda s: s and ">" not in s and "|" not in s)
)


def _export(rows: list[ExportRow], depth: int = 2) -> bytes:
    return "".join(write_csv(rows, depth)).encode("utf-8")


def _read(data: bytes) -> list[Record]:
    found = records(data, "export.csv")
    problems = [str(r) for r in found if not isinstance(r, Record)]
    assert not problems, problems
    return found


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT.filter(lambda t: t.strip()), doc_id=TEXT.map(str.strip).filter(bool), label=LABEL)
def test_every_string_survives_an_export_and_an_import(text, doc_id, label):
    row = ExportRow(id=doc_id, text=text, split="train", paths=[[label]], meta={})
    (record,) = _read(_export([row]))
    assert record.text == text and record.id == doc_id and record.paths == ((label,),)


def test_a_bare_carriage_return_is_quoted_and_reads_back():
    data = _export([ExportRow(id="1", text="before\rafter", split="", paths=[], meta={})])
    assert b'"before\rafter"' in data
    (record,) = _read(data)
    assert record.text == "before\rafter"


def test_a_leading_apostrophe_in_someone_elses_csv_is_kept():
    (record,) = _read(b"id,text\n1,'=already quoted\n")
    assert record.text == "'=already quoted"


def test_htc_exports_carry_their_mark_and_get_their_apostrophes_back():
    rows = [ExportRow(id="1", text="'=already quoted", split="", paths=[], meta={})]
    data = _export(rows)
    assert data.splitlines()[0].endswith(EXPORT_MARK.encode())
    (record,) = _read(data)
    assert record.text == "'=already quoted"


def test_a_quoted_field_over_the_size_limit_names_the_limit(settings):
    import csv

    records(b"id,text\n1,x\n", "small.csv")  # sets the reader's field limit from HTC_MAX_DOCUMENT_CHARS
    limit = csv.field_size_limit()
    data = b'id,text\n1,"' + b"long line\n" * (limit // 10 + 1) + b'"\n'
    try:
        records(data, "big.csv")
    except FormatError as exc:
        message = str(exc)
    else:  # pragma: no cover
        raise AssertionError("no error")
    assert f"longer than {limit - 1:,} characters" in message and "never closed" not in message
    assert message.startswith("big.csv, line 2")


@pytest.mark.django_db
def test_a_label_with_a_nul_character_is_refused_with_that_reason(client_for, owner, project):
    response = client_for(owner).post(
        f"/projects/{project.pk}/taxonomy/nodes/add/", {"name": "bad\x00name", "parent": ""}, follow=True
    )
    text = response.content.decode()
    assert "Null characters are not allowed" in text and "at most 255 characters" not in text
