"""Bad input families around reliability.md #1, #2, #4, #8, #10, #11, #12 and #14: the neighbours a careful
attacker tries after the cases tests/corpora and tests/taxonomies already cover. Every refusal names the
problem and writes nothing."""

from __future__ import annotations

import io
import os
import warnings

import pytest
from django.core.exceptions import ValidationError

from corpora.formats.base import FormatError
from corpora.models import Corpus, Document, GoldLabel
from tests.corpora.helpers import make_zip, records

pytestmark = pytest.mark.django_db
TREE = {"Sci": {"Med": {}, "Space": {}}, "Rec": {}}


@pytest.fixture
def import_file(owner):
    from corpora.services import corpus_import

    def run(project, file_name: str, data: bytes, **options):
        return corpus_import(project=project, file_name=file_name, fileobj=io.BytesIO(data), actor=owner, **options)

    return run


def refused(call, *args, **kwargs) -> list[str]:
    """Run an import that must be refused; return its messages and check that nothing was written."""
    before = (Corpus.objects.count(), Document.objects.count(), GoldLabel.objects.count())
    with pytest.raises(ValidationError) as exc:
        call(*args, **kwargs)
    assert (Corpus.objects.count(), Document.objects.count(), GoldLabel.objects.count()) == before
    return exc.value.messages


# --- #1 malformed CSV ------------------------------------------------------------------------------------


def test_csv_with_bare_cr_line_endings_is_refused_at_line_one_not_read_as_one_document():
    with pytest.raises(FormatError) as exc:
        records(b"id,text\r1,x\r2,y\r", "mac.csv")
    assert str(exc.value).startswith("mac.csv, line 1")


def test_a_header_naming_a_column_twice_is_refused_with_its_column():
    with pytest.raises(FormatError) as exc:
        records(b"id,text,text\n1,a,b\n", "c.csv")
    assert str(exc.value) == "c.csv, line 1, column 3: the column 'text' appears twice in the header"


def test_a_quote_inside_an_unquoted_field_is_kept_as_text():
    (rec,) = records(b'id,text\n1,say "hi" twice\n', "c.csv")
    assert rec.text == 'say "hi" twice'


def test_a_ragged_row_late_in_a_zip_entry_rejects_the_whole_archive(project, build_tree, import_file):
    data = make_zip([("a.csv", b"id,text\n1,x\n2,y\n"), ("b.csv", b"id,text\n3,z\n4,w,extra\n")])
    assert refused(import_file, project, "c.zip", data) == [
        "c.zip/b.csv, line 3, column 3: 3 fields, but the header has 2"
    ]


# --- #2 encodings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        ("\ufeffid,text\n1,x\n".encode("utf-16-be"), "UTF-16"),  # UTF-16 BE with its byte order mark
        ("id,text\n1,x\n".encode("utf-16-be"), "NUL byte"),  # ... and without
        ("id,text\n1,x\n".encode("utf-32"), "UTF-16 or UTF-32"),
        (b"id,text\n1," + "日本語".encode("shift_jis") + b"\n", "byte 0x93 is not valid UTF-8"),
        (b"id,text\n1," + "naïve café".encode("latin-1") + b"\n", "byte 0xef is not valid UTF-8"),
        (b"id,text\n1,\xed\xa0\x80\n", "byte 0xed"),  # an encoded surrogate (CESU-8)
        (b"id,text\n1,\xc0\xaf\n", "byte 0xc0"),  # an overlong '/'
    ],
)
def test_files_that_are_not_utf8_are_refused_with_line_and_byte_offset(data, expect):
    with pytest.raises(FormatError) as exc:
        records(data, "c.csv")
    assert expect in str(exc.value)
    if "byte 0x" in expect:
        assert f"byte offset {data.index(bytes.fromhex(expect.split('0x')[1][:2]))}" in str(exc.value)


@pytest.mark.parametrize(
    ("name", "data"), [("c.jsonl", b'\xef\xbb\xbf{"text": "caf\xc3\xa9"}\n'), ("c.txt", b"\xef\xbb\xbfcaf\xc3\xa9\n")]
)
def test_a_utf8_byte_order_mark_is_dropped_not_kept_in_the_text(name, data):
    (rec,) = records(data, name)
    assert rec.text == "café"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b'{"text": "a\\u0000b"}', "NUL character"),  # PostgreSQL cannot store it in text or jsonb
        (b'{"text": "x", "meta": {"k": "\\u0000"}}', "NUL character"),
        (b'{"text": "\\ud800"}', "unpaired surrogate"),  # not text: no backend can encode it
        (b'{"text": "x", "path": ["\\udfff"]}', "unpaired surrogate"),
        (b'{"text": "x", "meta": {"n": NaN}}', "NaN is not a JSON number"),
        (b'{"text": "x", "n": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"text": "a", "text": "b"}', "the key 'text' appears twice"),
        (b'{"text": "x", "meta": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deeply"),
    ],
)
def test_jsonl_values_the_database_cannot_store_are_refused_per_line(line, problem, project, import_file):
    (error,) = records(line + b"\n", "c.jsonl")
    assert problem in str(error) and str(error).startswith("c.jsonl, line 1")
    messages = refused(import_file, project, "c.jsonl", b'{"text": "fine"}\n' + line + b"\n")
    assert any(problem in m for m in messages)


def test_an_escaped_emoji_pair_is_real_text():
    (rec,) = records(b'{"text": "ok \\ud83d\\ude00"}\n', "c.jsonl")
    assert rec.text == "ok \U0001f600"


# --- #4 nothing to import ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("spaces.csv", b"   \n\t\n"),
        ("bom.csv", b"\xef\xbb\xbf"),
        ("bom.jsonl", b"\xef\xbb\xbf\n"),
        ("folders.zip", make_zip([("docs/", b"")])),
        ("headers.zip", make_zip([("a.csv", b"id,text\n"), ("b.jsonl", b"\n")])),
    ],
)
def test_files_with_nothing_in_them_say_so_and_write_nothing(name, data, project, import_file):
    messages = refused(import_file, project, name, data)
    assert any("no documents" in m or "holds no" in m for m in messages), messages


def test_rows_whose_text_is_all_blank_are_each_reported(project, import_file):
    messages = refused(import_file, project, "c.csv", b"id,text\n1,\n2,   \n")
    assert messages == ["c.csv, line 2, field text: empty text", "c.csv, line 3, field text: empty text"]


# --- #8 zip entry names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("..\\x.csv", "backslash"),
        ("./../x.csv", "contains '..'"),
        ("a/./../../x.csv", "contains '..'"),
        ("//server/x.csv", "absolute path"),
        ("\uff0e\uff0e/x.csv", "once normalised"),  # fullwidth full stops
        ("\u2025/x.csv", "once normalised"),  # two dot leader
        ("\uff0fetc/passwd.csv", "once normalised"),  # fullwidth solidus
        ("c\uff1a/x.csv", "once normalised"),  # fullwidth colon: a drive letter after NFKC
    ],
)
def test_zip_slip_neighbours_are_refused(name, reason, project, import_file, tmp_path):
    data = make_zip([("ok.csv", b"id,text\n1,fine\n"), (name, b"id,text\n2,escaped\n")])
    with pytest.raises(FormatError, match=reason):
        records(data, "evil.zip")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        messages = refused(import_file, project, "evil.zip", data)
    finally:
        os.chdir(cwd)
    assert "unsafe entry name" in messages[0]
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "x.csv").exists()


def test_the_same_entry_name_twice_is_refused():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate while writing it
        data = make_zip([("a.txt", b"first\n"), ("a.txt", b"second\n")])
    with pytest.raises(FormatError, match="appears twice"):
        records(data, "dup.zip")


def test_directory_entries_are_skipped_and_their_files_read():
    data = make_zip([("docs/", b""), ("docs/a.txt", b"alpha\n")])
    (rec,) = records(data, "d.zip")
    assert (rec.source, rec.text) == ("d.zip/docs/a.txt", "alpha")


def test_ordinary_fullwidth_names_are_accepted():
    (rec,) = records(make_zip([("\uff44\uff4f\uff43\uff53/a.csv", b"id,text\n1,x\n")]), "w.zip")
    assert rec.text == "x"


# --- #7 zip bombs ------------------------------------------------------------------------------------------


def test_many_small_entries_inside_the_per_entry_grace_cannot_add_up_to_a_bomb(settings):
    """Each entry may expand past the ratio up to a 1 MiB grace; 120 of them
    (over 300 times the archive) are refused by the ratio applied to the archive as a whole."""
    line = b"a" * 1000 + b"\n"
    data = make_zip([(f"part{i}.txt", line * 1000) for i in range(120)])
    assert len(data) * settings.HTC_ZIP_MAX_RATIO < 120 * 1001 * 1000  # over the ratio as a whole
    with pytest.raises(FormatError, match="zip bomb"):
        records(data, "many.zip")


def test_an_archive_of_ordinary_text_is_not_mistaken_for_a_bomb():
    lines = b"".join(f"document {i} about topic {i % 7}\n".encode() for i in range(20_000))
    assert len(records(make_zip([("a.txt", lines), ("b.txt", lines)]), "ok.zip")) == 40_000


# --- #10 duplicate ids -------------------------------------------------------------------------------------


def test_ids_that_differ_only_by_spaces_or_by_json_type_are_duplicates(project, import_file):
    assert "duplicate id '1'" in refused(import_file, project, "c.csv", b"id,text\n1,a\n 1 ,b\n")[0]
    assert (
        "duplicate id '7'"
        in refused(import_file, project, "c.jsonl", b'{"id": 7, "text": "a"}\n{"id": "7", "text": "b"}\n')[0]
    )


# --- #11 labels not in the taxonomy -------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["sci", "SCI", "Sci\u200b", "S\u0441i", "Sci > med"])  # case, zero-width, Cyrillic с
def test_label_variants_are_refused_by_name_never_matched_or_dropped(label, project, build_tree, import_file):
    build_tree(project, TREE)
    messages = refused(import_file, project, "c.csv", f"id,text,path\n1,x,{label}\n".encode())
    assert any(repr(label.split(" > ")[-1]) in m or label in m for m in messages), messages


def test_surrounding_whitespace_in_a_label_is_not_a_new_label(project, build_tree, import_file):
    nodes = build_tree(project, TREE)
    import_file(project, "c.csv", b"id,text,path\n1,x,  Sci >  Med  \n")
    assert GoldLabel.objects.get().node == nodes["Sci > Med"]


# --- #12 taxonomy structure --------------------------------------------------------------------------------


def test_a_label_cannot_become_its_own_parent_or_merge_into_itself(project, build_tree, owner):
    from taxonomies.services import node_merge, node_move

    nodes = build_tree(project, TREE)
    version = project.taxonomy.version
    for call in (
        lambda: node_move(node=nodes["Sci"], new_parent=nodes["Sci"], actor=owner),
        lambda: node_move(node=nodes["Sci"], new_parent=nodes["Sci > Med"], actor=owner),
        lambda: node_merge(source=nodes["Sci"], target=nodes["Sci"], actor=owner),
    ):
        with pytest.raises(ValidationError):
            call()
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("t.json", b'[{"name": "\\ud800"}]', "unpaired surrogate"),
        ("t.json", b'[{"name": "A", "description": "x\\u0000"}]', "NUL character"),
        ("t.json", b'[{"name": "A", "name": "B"}]', "appears twice"),
        ("t.json", b"[" * 50_000 + b"]" * 50_000, "nested too deeply"),
    ],
)
def test_taxonomy_files_the_database_cannot_store_are_refused(name, data, problem, project, owner):
    from taxonomies.models import Node
    from taxonomies.transfer import taxonomy_import

    with pytest.raises(ValidationError) as exc:
        taxonomy_import(taxonomy=project.taxonomy, file_name=name, data=data, actor=owner, mode="merge")
    assert any(problem in m for m in exc.value.messages), exc.value.messages
    assert not Node.objects.filter(taxonomy=project.taxonomy).exists()


# --- #14 deleting labels that are in use -------------------------------------------------------------------


def test_a_label_used_by_documents_cannot_be_deleted_behind_the_services_back(project, build_tree, import_file):
    from django.db.models import ProtectedError

    nodes = build_tree(project, TREE)
    import_file(project, "c.csv", b"id,text,path\n1,x,Sci > Med\n")
    with pytest.raises(ProtectedError):
        nodes["Sci > Med"].delete()  # GoldLabel.node is PROTECT: no silent loss, even outside the services


def test_deleting_a_label_only_predictions_use_keeps_the_prediction_pages_working(worlds, clients):
    from django.urls import reverse

    from taxonomies.services import node_delete

    alpha, _ = worlds
    gen = alpha.nodes["Sci > Bio > Gen"]
    node_delete(node=gen, actor=alpha.owner)
    for url in (
        reverse("classifiers:predictions", args=[alpha.project.pk, alpha.run.pk]),
        reverse("review:item", args=[alpha.project.pk, alpha.run.pk, alpha.prediction.pk]),
        reverse("corpora:document", args=[alpha.project.pk, alpha.document.pk]),
    ):
        response = clients["owner"].get(url)
        assert response.status_code == 200, url
    body = clients["owner"].get(reverse("classifiers:predictions", args=[alpha.project.pk, alpha.run.pk]))
    assert f"#{gen.pk} (deleted)" in body.content.decode()
