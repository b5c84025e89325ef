"""The one-pass bulk importer: all or nothing wherever the bad line is, the same rows as the reader read,
unstorable JSON refused, exact duplicate detection behind the Bloom filter, split-name mapping and the
summarised problem list."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError

from corpora import importing
from corpora.bulk import DocumentWriter
from corpora.formats import Record, read_records
from corpora.importing import document_id_for
from corpora.models import Corpus, Document, GoldLabel
from corpora.services import _split_codes, corpus_import, parse_split_map
from taxonomies.models import Node, TaxonomyChange
from taxonomies.selectors import taxonomy_tree
from tests.conftest import SHARED_DATASETS

TREE = {"Sci": {"Med": {}, "Space": {}}, "Rec": {"Autos": {}}}


@pytest.fixture
def small_batches(monkeypatch):
    """Batches of 7 rows, and a count of bulk writes, so a failure comes after rows were really written."""
    monkeypatch.setattr(importing, "BATCH_MAX_ROWS", 7)
    writes = []
    original = DocumentWriter.write

    def counting(self, rows):
        writes.append(len(rows))
        return original(self, rows)

    monkeypatch.setattr(DocumentWriter, "write", counting)
    return writes


def _state(project):
    return (
        Document.objects.count(),
        GoldLabel.objects.count(),
        Corpus.objects.count(),
        Node.objects.filter(taxonomy=project.taxonomy).count(),
        TaxonomyChange.objects.filter(taxonomy=project.taxonomy).count(),
    )


def _csv(n: int, bad_at: int | None, bad: str) -> bytes:
    lines = ["id,text,path,split"]
    for i in range(n):
        lines.append(bad if i == bad_at else f"d{i},text {i},New{i % 3} > Leaf{i % 5},train")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("where", ["start", "middle", "end"])
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("x,,Sci,train", "field text: empty text"),
        ("x,words,Sci,train_subset", "field split: unknown split 'train_subset'"),
        ("x,words,Sci >  > Med,train", "field path: empty label name"),
        ("d0,words,Sci,train", "field id: duplicate id 'd0'"),
    ],
)
def test_a_bad_line_anywhere_leaves_nothing_and_is_named(
    project, build_tree, owner, small_batches, where, bad, message
):
    build_tree(project, TREE)
    n = 60
    bad_at = {"start": 0, "middle": n // 2, "end": n - 1}[where]
    if bad.startswith("d0,") and where == "start":
        bad_at = 1  # a duplicate needs the first d0 before it
    before = _state(project)
    with pytest.raises(ValidationError) as exc:
        corpus_import(
            project=project,
            file_name="c.csv",
            fileobj=io.BytesIO(_csv(n, bad_at, bad)),
            actor=owner,
            add_missing_labels=True,
        )
    assert [m for m in exc.value.messages if m.startswith(f"c.csv, line {bad_at + 2}, {message}")], exc.value.messages
    assert _state(project) == before
    if where != "start":
        assert small_batches, "rows were written (and then rolled back) before the bad line"


def test_an_unknown_label_on_the_last_line_rolls_back_written_batches(project, build_tree, owner, small_batches):
    build_tree(project, TREE)
    rows = "".join(f"{i},text {i},Sci > Med\n" for i in range(50))
    data = ("id,text,path\n" + rows + "last,text,Sci > Nope\n").encode()
    before = _state(project)
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner)
    assert exc.value.messages == ["c.csv, line 52, field path: unknown label 'Sci > Nope'"]
    assert sum(small_batches) == 49 and _state(project) == before


def test_labels_created_before_a_late_bad_line_are_rolled_back(project, owner, small_batches):
    data = _csv(40, 39, "x,,New0 > Leaf0,train")
    with pytest.raises(ValidationError):
        corpus_import(
            project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner, add_missing_labels=True
        )
    assert Node.objects.filter(taxonomy=project.taxonomy).count() == 0 and Document.objects.count() == 0


def test_what_is_written_is_exactly_what_the_reader_read(project, owner, small_batches):
    data = _csv(45, None, "") + b"nosplit,unsplit text,New1 > Leaf2,\n"
    corpus = corpus_import(
        project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner, add_missing_labels=True
    )
    assert _documents(project) == _expected(data, "c.csv")
    assert corpus.stats == {"documents": 46, "splits": {"train": 45, "unassigned": 1}, "labels_created": 18}
    assert len(small_batches) == 7  # 6 full batches of 7 and the rest


def test_ids_continue_after_deleted_documents_and_gold_labels_point_at_them(project, build_tree, owner):
    build_tree(project, TREE)
    first = corpus_import(project=project, file_name="a.csv", fileobj=io.BytesIO(b"id,text\na,x\nb,y\n"), actor=owner)
    top = Document.objects.order_by("-id").first().pk
    first.delete()
    corpus_import(project=project, file_name="b.csv", fileobj=io.BytesIO(b"id,text,path\nc,z,Rec\n"), actor=owner)
    doc = Document.objects.get(external_id="c")
    assert doc.pk > top  # an id once used is not given again
    assert [g.node.name for g in doc.gold_labels.select_related("node")] == ["Rec"]


def _documents(project) -> dict[str, tuple[str, str, tuple[str, ...], dict, int]]:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    gold: dict[int, list[str]] = {}
    for doc_id, node_id in GoldLabel.objects.filter(document__project=project).values_list("document_id", "node_id"):
        gold.setdefault(doc_id, []).append(tree.path_label(node_id))
    return {
        d.external_id: (d.text, d.split, tuple(sorted(gold.get(d.pk, []))), d.meta, d.length)
        for d in Document.objects.filter(project=project)
    }


def _expected(data: bytes, name: str, test_fraction=None, dev_fraction=None, seed=0) -> dict:
    """What the import must write, derived from the reader's records alone (the old importer's semantics)."""
    items = [r for r in read_records(io.BytesIO(data), name) if isinstance(r, Record)]
    unsplit = [r for r in items if not r.split]
    codes = _split_codes(len(unsplit), test_fraction, dev_fraction, seed)
    random_split = {}
    for i, r in enumerate(unsplit):
        random_split[r.line_no, r.source] = ("train", "dev", "test")[codes[i]] if codes is not None else ""
    return {
        document_id_for(r): (
            r.text,
            r.split or random_split[r.line_no, r.source],
            tuple(sorted(" > ".join(p) for p in r.paths)),
            r.meta,
            len(r.text),
        )
        for r in items
    }


def _twenty_newsgroups_facts(project, corpus) -> None:
    """The real 20 Newsgroups corpus imports whole: counts, labels per level and the bydate split (checked on the
    same import as the reader comparison; the corpus takes ~12 s to import, so it is imported once)."""
    assert Document.objects.filter(corpus=corpus).count() == 18_846
    assert Node.objects.filter(taxonomy=project.taxonomy, depth=1).count() == 7
    assert Node.objects.filter(taxonomy=project.taxonomy, depth=2).count() == 20
    assert corpus.stats["splits"] == {"train": 11_314, "test": 7_532}
    assert GoldLabel.objects.filter(document__corpus=corpus).count() == 18_846
    med = Document.objects.get(project=project, external_id="train/sci.med/59207")
    assert [g.node.name for g in med.gold_labels.select_related("node")] == ["sci.med"]


DATASET_FACTS = {"20newsgroups": _twenty_newsgroups_facts}


@pytest.mark.dataset
@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder", "fractions"),
    [("20newsgroups", (None, None)), ("dbpedia298_generated", (0.2, 0.1)), ("amazon531_generated", (0.3, 0.0))],
)
def test_shared_corpora_import_with_the_ids_paths_and_splits_the_reader_gives(project, owner, folder, fractions):
    path = SHARED_DATASETS / folder / f"{folder}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    data = path.read_bytes()
    test_fraction, dev_fraction = fractions
    corpus = corpus_import(
        project=project,
        file_name=path.name,
        fileobj=io.BytesIO(data),
        actor=owner,
        add_missing_labels=True,
        test_fraction=test_fraction,
        dev_fraction=dev_fraction,
        seed=3,
    )
    expected = _expected(data, path.name, test_fraction, dev_fraction, seed=3)
    assert corpus.stats["documents"] == len(expected)
    assert _documents(project) == expected
    if folder in DATASET_FACTS:
        DATASET_FACTS[folder](project, corpus)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (rb'{"id": "1", "text": "a\u0000b"}', "the line contains a NUL character (\\u0000)"),
        (rb'{"id": "1", "text": "a\ud800b"}', "the line contains an unpaired surrogate (\\ud800-\\udfff)"),
        (rb'{"id": "1", "text": "a", "meta": {"k\u0000": 1}}', "the line contains a NUL character (\\u0000)"),
        (rb'{"id": "1", "text": "a", "text": "b"}', "the key 'text' appears twice in one object"),
        (rb'{"id" : "1", "text" : "a", "id" : "2"}', "the key 'id' appears twice in one object"),
        (rb'{"id": "1", "te\u0078t": "a", "text": "b"}', "the key 'text' appears twice in one object"),
        (rb'{"id": "1", "text": "a", "meta": {"x": 1, "x": 2}}', "the key 'x' appears twice in one object"),
        (rb'{"id": "1", "text": "say \":\" ok", "id": "2"}', "the key 'id' appears twice in one object"),
    ],
)
def test_unstorable_or_ambiguous_json_is_refused(project, owner, line, problem):
    data = b'{"id": "0", "text": "fine"}\n' + line + b"\n"
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="c.jsonl", fileobj=io.BytesIO(data), actor=owner)
    assert exc.value.messages == [f"c.jsonl, line 2: {problem}"]
    assert Document.objects.count() == 0


def test_json_with_escapes_and_spacing_that_is_fine_imports(project, owner):
    data = (
        b'{"id": "1", "text": "quote \\": colon and \\\\u0000 spelled out", "meta": {"a": [{"b": 1}]}}\n'
        b'{"id" : "2" , "text" : "spaced"}\n'
    )
    corpus_import(project=project, file_name="c.jsonl", fileobj=io.BytesIO(data), actor=owner)
    docs = dict(Document.objects.values_list("external_id", "text"))
    assert docs == {"1": 'quote ": colon and \\u0000 spelled out', "2": "spaced"}
    assert Document.objects.get(external_id="1").meta == {"a": [{"b": 1}]}


def test_a_raw_nul_byte_is_refused(project, owner):
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(b"text\nab\x00c\n"), actor=owner)
    assert "c.csv, line 2: NUL byte" in exc.value.messages[0]


def test_duplicates_are_exact_behind_a_tiny_bloom_filter(project, owner, small_batches, monkeypatch):
    monkeypatch.setattr(importing.IdFilter, "BITS", 8)  # nearly every id is a filter hit: all confirmed exactly
    ok = "id,text\n" + "".join(f"k{i},t\n" for i in range(30))
    corpus_import(project=project, file_name="ok.csv", fileobj=io.BytesIO(ok.encode()), actor=owner)
    assert Document.objects.count() == 30
    bad = "id,text\n" + "".join(f"n{i},t\n" for i in range(30)) + "n3,again\nk5,taken\n"
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="bad.csv", fileobj=io.BytesIO(bad.encode()), actor=owner)
    assert exc.value.messages == [
        "bad.csv, line 32, field id: duplicate id 'n3' (already used earlier in the file)",
        "1 document ids already exist in this project: 'k5'",
    ]
    assert Document.objects.count() == 30


def test_on_sqlite_a_filter_hit_is_confirmed_through_the_unique_id_index(project, owner, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL chooses plans from table statistics; this checks SQLite's fixed planner")
    monkeypatch.setattr(importing.IdFilter, "BITS", 8)
    data = "id,text\n" + "".join(f"k{i},t\n" for i in range(30))
    with CaptureQueriesContext(connection) as queries:
        corpus_import(project=project, file_name="ok.csv", fileobj=io.BytesIO(data.encode()), actor=owner)
    lookups = [q["sql"] for q in queries.captured_queries if "SELECT 1 AS" in q["sql"] and "external_id" in q["sql"]]
    assert lookups
    with connection.cursor() as cursor:
        for sql in lookups:
            plan = " ".join(str(row) for row in cursor.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
            assert "project_id=? AND external_id=?" in plan, plan


def test_split_names_can_be_mapped(project, owner):
    data = b"id,text,split\n1,a,train_subset\n2,b,Heldout\n3,c,test\n"
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner)
    assert exc.value.messages[0] == (
        "c.csv, line 2, field split: unknown split 'train_subset' (use train, dev or test, or map the name to one "
        "of them)"
    )
    mapping = parse_split_map("train_subset=train; heldout = Test")
    assert mapping == {"train_subset": "train", "heldout": "test"}
    corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner, split_map=mapping)
    assert dict(Document.objects.values_list("external_id", "split")) == {"1": "train", "2": "test", "3": "test"}


@pytest.mark.parametrize("text", ["train_subset", "a=b", "=train", "x=train, y"])
def test_bad_split_maps_are_refused(text):
    with pytest.raises(ValidationError):
        parse_split_map(text)


def test_many_problems_list_the_first_twenty_and_totals_per_kind(project, owner):
    long_split = "subset " * 80
    rows = [f"{i},text,train_subset" for i in range(70)] + [f"e{i},," for i in range(5)] + [f"x,t,{long_split}"]
    data = ("id,text,split\n" + "\n".join(rows) + "\n").encode()
    with pytest.raises(ValidationError) as exc:
        corpus_import(project=project, file_name="c.csv", fileobj=io.BytesIO(data), actor=owner)
    messages = exc.value.messages
    assert messages[:20] == [
        f"c.csv, line {i + 2}, field split: unknown split 'train_subset' (use train, dev or test, or map the name "
        "to one of them)"
        for i in range(20)
    ]
    assert messages[20:] == [
        "... and 56 more problems.",
        "76 problems in all, by kind:",
        "71 × field split: unknown split '…' (use train, dev or test, or map the name to one of them)",
        "5 × field text: empty text",
    ]


def test_a_long_message_is_cut_at_a_word_boundary():
    message = "c.csv, line 2, field split: unknown split '" + "subset " * 80 + "'"
    short = importing.shorten(message)
    assert len(short) <= importing.MAX_MESSAGE_CHARS and short.endswith("subset…")


def test_the_job_error_text_keeps_whole_lines_and_the_totals():
    messages = [f"c.csv, line {i}, field split: unknown split 'train_subset' (use train)" for i in range(20)]
    messages += ["... and 980 more problems.", "1,000 problems in all, by kind:", "1,000 × field split: unknown split"]
    text = importing.problems_text(messages, budget=600)
    lines = text.split("\n")
    assert lines[:2] == ["1,000 problems in all, by kind:", "1,000 × field split: unknown split"]
    assert all(line in messages for line in lines[2:-1]) and lines[-1].endswith("more listed problems.")
    assert len(text) <= 600
