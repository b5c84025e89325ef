"""Readers: each format, encodings, CSV structure errors and zip safety (no database)."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from corpora.formats import FormatError, Record, RecordError
from corpora.formats.csv_format import neutralise_cell, restore_cell
from corpora.formats.zip_format import _Budget, _CountingReader
from tests.corpora.helpers import make_zip, records

pytestmark = pytest.mark.db_independent  # no database: `make test-pg` deselects it (SQLite leg only)


def only_records(items):
    assert all(isinstance(i, Record) for i in items), [str(i) for i in items if isinstance(i, RecordError)]
    return items


def test_csv_reads_id_text_path_split_and_multiline_quoted_text():
    data = b'id,text,path,split\n1,hello,A > B,train\n2,"two\nlines",A > C | D,validation\n3,plain,,\n'
    items = only_records(records(data, "c.csv"))
    assert [(r.id, r.text, r.paths, r.split, r.line_no) for r in items] == [
        ("1", "hello", (("A", "B"),), "train", 2),
        ("2", "two\nlines", (("A", "C"), ("D",)), "dev", 3),
        ("3", "plain", (), "", 5),
    ]


def test_csv_level_columns_give_one_path_and_extra_columns_go_to_meta():
    data = b"text,level1,level2,level3,source\nx,Sci,Med,,web\ny,Sci,,,\n"
    a, b = only_records(records(data, "c.csv"))
    assert a.paths == (("Sci", "Med"),) and a.meta == {"source": "web"}
    assert b.paths == (("Sci",),) and b.meta == {}


def test_csv_level_gap_is_an_error_naming_the_column():
    (err,) = records(b"text,level1,level2\nx,,Med\n", "c.csv")
    assert isinstance(err, RecordError)
    assert str(err) == "c.csv, line 2, field level1: level1 is empty but a deeper level is set"


def test_csv_with_utf8_bom_reads_the_header():
    (rec,) = only_records(records("\ufefftext,id\nCafé,1\n".encode(), "c.csv"))
    assert (rec.id, rec.text) == ("1", "Café")


def test_tsv_uses_tabs():
    (rec,) = only_records(records(b"id\ttext\tpath\n7\ta, b\tX > Y\n", "c.tsv"))
    assert (rec.id, rec.text, rec.paths) == ("7", "a, b", (("X", "Y"),))


def test_csv_ragged_rows_are_reported_with_line_and_column():
    items = records(b"id,text\n1,ok\n2,too,many\n3\n", "c.csv")
    assert [str(i) for i in items if isinstance(i, RecordError)] == [
        "c.csv, line 3, column 3: 3 fields, but the header has 2",
        "c.csv, line 4, column 1: 1 fields, but the header has 2",
    ]


def test_csv_unbalanced_quote_names_the_line_and_column_where_it_opened():
    with pytest.raises(FormatError) as exc:
        records(b'id,text\n1,fine\n2,"never closed\n3,more\n', "c.csv")
    assert str(exc.value) == "c.csv, line 3, column 3: this quoted field is never closed (unbalanced quote)"


def test_csv_stray_character_after_closing_quote_is_located():
    with pytest.raises(FormatError) as exc:
        records(b'id,text\n1,"quoted"x\n', "c.csv")
    assert "line 2, column 11" in str(exc.value)


def test_csv_without_text_column_is_refused():
    with pytest.raises(FormatError, match="no 'text' column"):
        records(b"id,body\n1,x\n", "c.csv")


def test_cp1252_bytes_are_rejected_with_their_byte_offset():
    data = b"id,text\n1,ok\n2," + "smart \u201cquotes\u201d".encode("cp1252") + b"\n"
    with pytest.raises(FormatError) as exc:
        records(data, "c.csv")
    offset = data.index(b"\x93")
    assert f"byte offset {offset}" in str(exc.value) and "line 3" in str(exc.value) and "0x93" in str(exc.value)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_with_or_without_bom_is_rejected_not_misread(encoding):
    with pytest.raises(FormatError, match="UTF-16"):
        records("id,text\n1,hello\n".encode(encoding), "c.csv")


def test_jsonl_path_paths_split_and_blank_lines():
    data = (
        b'{"id": "a", "text": "one", "path": ["A", "B"], "split": "test"}\n\n'
        b'{"id": 5, "text": "two", "paths": [["A"], ["C", "D"]], "source": "x"}\n'
    )
    a, b = only_records(records(data, "c.jsonl"))
    assert (a.id, a.paths, a.split, a.line_no) == ("a", (("A", "B"),), "test", 1)
    assert (b.id, b.paths, b.meta, b.line_no) == ("5", (("A",), ("C", "D")), {"source": "x"}, 3)


def test_jsonl_problems_are_per_line_and_reading_goes_on():
    data = b'{"text": "ok"}\n{"text": \n[1]\n{"id": "x"}\n{"text": "  "}\n{"text": "t", "split": "holdout"}\n'
    items = records(data, "c.jsonl")
    assert isinstance(items[0], Record)
    assert [str(i) for i in items[1:]] == [
        "c.jsonl, line 2, column 11: invalid JSON: Expecting value",
        "c.jsonl, line 3: each line must be a JSON object",
        "c.jsonl, line 4, field text: missing the text field",
        "c.jsonl, line 5, field text: empty text",
        "c.jsonl, line 6, field split: unknown split 'holdout' (use train, dev or test, or map the name to one of them)",
    ]


def test_txt_one_document_per_line_with_file_line_ids():
    items = only_records(records(b"first doc\n\n  \nthird doc\r\n", "notes.txt"))
    assert [(r.id, r.text) for r in items] == [("notes.txt:1", "first doc"), ("notes.txt:4", "third doc")]


def test_unknown_extension_is_refused():
    with pytest.raises(FormatError, match="unsupported file type"):
        records(b"x", "data.xlsx")


def test_zip_reads_every_entry_and_skips_folders_and_macos_copies():
    data = make_zip(
        [
            ("docs/", b""),
            ("docs/a.csv", b"id,text\n1,alpha\n"),
            ("b.txt", b"beta\n"),
            ("__MACOSX/docs/._a.csv", b"junk"),
        ]
    )
    items = only_records(records(data, "corpus.zip"))
    assert [(r.source, r.id, r.text) for r in items] == [
        ("corpus.zip/docs/a.csv", "1", "alpha"),
        ("corpus.zip/b.txt", "corpus.zip/b.txt:1", "beta"),
    ]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.csv", "contains '..'"),
        ("docs/../../evil.csv", "contains '..'"),
        ("/etc/passwd.csv", "is an absolute path"),
        ("C:\\temp\\x.csv", "backslash"),
        ("C:x.csv", "drive letter"),
    ],
)
def test_zip_slip_names_are_refused(name, reason):
    with pytest.raises(FormatError, match=reason):
        records(make_zip([(name, b"id,text\n1,x\n")]), "evil.zip")


def test_zip_symlink_entries_are_refused():
    info = zipfile.ZipInfo("link.csv")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(FormatError, match="symbolic links"):
        records(make_zip([(info, b"/etc/passwd")]), "links.zip")


def test_nested_zip_is_refused_by_name_and_by_content():
    inner = make_zip([("a.csv", b"id,text\n1,x\n")])
    with pytest.raises(FormatError, match="nested archives"):
        records(make_zip([("inner.zip", inner)]), "outer.zip")
    with pytest.raises(FormatError, match="nested archives"):
        records(make_zip([("disguised.csv", inner)]), "outer.zip")


def test_zip_bomb_is_refused_by_the_ratio_cap():
    bomb = make_zip([("bomb.txt", b"0" * (8 * 1024 * 1024))])
    assert len(bomb) < 100_000
    with pytest.raises(FormatError, match="expands more than 100 times"):
        records(bomb, "bomb.zip")


def test_zip_with_too_many_entries_is_refused(settings):
    settings.HTC_ZIP_MAX_ENTRIES = 3
    data = make_zip([(f"{i}.txt", b"doc\n") for i in range(4)])
    with pytest.raises(FormatError, match="4 entries; the limit is 3"):
        records(data, "many.zip")


def test_zip_total_bytes_cap_counts_bytes_actually_read(settings):
    settings.HTC_ZIP_MAX_TOTAL_BYTES = 10_000
    info = zipfile.ZipInfo("x.txt")
    info.compress_size = 5_000_000  # a lie: the ratio cap would allow far more
    budget = _Budget("a.zip")
    reader = io.BufferedReader(_CountingReader(io.BytesIO(b"doc\n" * 5_000), "a.zip/x.txt", info, budget))
    with pytest.raises(FormatError, match="more than 10,000 bytes"):
        reader.read()


def test_zip_entry_whose_declared_size_lies_is_refused():
    data = bytearray(make_zip([("a.txt", b"first line\n" * 1000)]))
    # Shrink the declared uncompressed size in the local and central headers.
    local = data.index(b"PK\x03\x04")
    data[local + 22 : local + 26] = (20).to_bytes(4, "little")
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (20).to_bytes(4, "little")
    with pytest.raises(FormatError, match="corrupt"):
        records(bytes(data), "liar.zip")


def test_csv_formula_cells_are_neutralised_and_restored():
    for value in ["=1+1", "+x", "-5", "@SUM(A1)", "\tx", "\rx"]:
        assert neutralise_cell(value) == "'" + value
        assert restore_cell(neutralise_cell(value)) == value
    assert neutralise_cell("plain") == "plain" and restore_cell("'quoted") == "'quoted"


def test_csv_paths_column_is_read_as_labels_not_meta():
    (rec,) = only_records(records(b"text,paths\nx,A > B | C\n", "c.csv"))
    assert rec.paths == (("A", "B"), ("C",)) and rec.meta == {}
