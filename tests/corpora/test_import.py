"""corpus_import: validation collects every problem, writes all or nothing, splits, labels, limits."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from corpora.models import Corpus, Document, GoldLabel
from taxonomies.models import Node, TaxonomyChange
from taxonomies.selectors import taxonomy_tree
from tests.corpora.helpers import make_zip

TREE = {"Sci": {"Med": {}, "Space": {}}, "Rec": {"Autos": {}}}


def problems(excinfo) -> list[str]:
    return excinfo.value.messages


def gold(project) -> dict[str, list[str]]:
    tree = taxonomy_tree(taxonomy=project.taxonomy)
    out: dict[str, list[str]] = {}
    for doc_id, node_id in GoldLabel.objects.filter(document__project=project).values_list(
        "document__external_id", "node_id"
    ):
        out.setdefault(doc_id, []).append(tree.path_label(node_id))
    return {k: sorted(v) for k, v in out.items()}


def test_csv_import_writes_documents_gold_labels_splits_and_length(project, build_tree, import_bytes):
    build_tree(project, TREE)
    data = b"id,text,path,split\nd1,Aspirin helps,Sci > Med,train\nd2,Mars rover,Sci > Space,test\nd3,Engines,Rec,dev\n"
    corpus = import_bytes(project, "corpus.csv", data)
    docs = {d.external_id: d for d in Document.objects.filter(project=project)}
    assert {k: (d.text, d.split, d.length, d.corpus_id) for k, d in docs.items()} == {
        "d1": ("Aspirin helps", "train", 13, corpus.pk),
        "d2": ("Mars rover", "test", 10, corpus.pk),
        "d3": ("Engines", "dev", 7, corpus.pk),
    }
    assert gold(project) == {"d1": ["Sci > Med"], "d2": ["Sci > Space"], "d3": ["Rec"]}
    assert corpus.stats == {"documents": 3, "splits": {"train": 1, "test": 1, "dev": 1}, "labels_created": 0}
    assert corpus.name == "corpus.csv" and corpus.source_filename == "corpus.csv"


def test_unknown_labels_are_all_listed_with_line_and_nothing_is_written(project, build_tree, import_bytes):
    build_tree(project, TREE)
    data = b"id,text,path\n1,a,Sci > Med\n2,b,Foo > Bar\n3,c,sci > med\n4,d,Foo > Bar\n"
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "corpus.csv", data)
    assert problems(exc) == [
        "corpus.csv, line 3, field path: unknown label 'Foo > Bar' (and 1 more documents)",
        "corpus.csv, line 4, field path: unknown label 'sci > med'; did you mean 'Sci > Med'?",
    ]
    assert Document.objects.count() == 0 and Corpus.objects.count() == 0


def test_add_missing_labels_creates_them_in_one_taxonomy_version(project, build_tree, import_bytes):
    build_tree(project, TREE)
    version = project.taxonomy.version
    data = b'{"id": "1", "text": "a", "path": ["Sci", "Bio", "Genes"]}\n{"id": "2", "text": "b", "path": ["Arts"]}\n'
    corpus = import_bytes(project, "c.jsonl", data, add_missing_labels=True)
    project.taxonomy.refresh_from_db()
    assert project.taxonomy.version == version + 1
    change = TaxonomyChange.objects.get(taxonomy=project.taxonomy, version=project.taxonomy.version)
    assert change.action == "import" and change.details["labels_created"] == 3
    assert corpus.stats["labels_created"] == 3
    assert gold(project) == {"1": ["Sci > Bio > Genes"], "2": ["Arts"]}
    genes = Node.objects.get(name="Genes")
    assert genes.depth == 3 and genes.path_key == f"{genes.parent.parent.path_key}{genes.parent.pk}/{genes.pk}/"


def test_add_missing_labels_refuses_case_and_spacing_variants(project, build_tree, import_bytes):
    build_tree(project, TREE)
    data = b"text,path\na,SCI > Med\nb,New > One\nc,new > One\nd,Rec >  Autos\n"
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.csv", data, add_missing_labels=True)
    assert problems(exc) == [
        "c.csv, line 2, field path: label 'SCI > Med' differs only in case or spacing from 'Sci'",
        "c.csv, line 4, field path: label 'new > One' differs only in case or spacing from 'New'",
    ]
    assert Node.objects.filter(name__in=["New", "new", "SCI"]).count() == 0


def test_duplicate_ids_in_the_file_and_against_the_project_are_listed(project, import_bytes):
    import_bytes(project, "first.csv", b"id,text\nold-1,x\nold-2,y\n")
    data = b"id,text\nnew,a\nold-2,b\nnew,c\nold-1,d\n"
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "second.csv", data)
    assert problems(exc) == [
        "second.csv, line 4, field id: duplicate id 'new' (already used earlier in the file)",
        "2 document ids already exist in this project: 'old-1', 'old-2'",
    ]
    assert Document.objects.filter(project=project).count() == 2


@pytest.mark.parametrize(
    ("name", "data"),
    [("empty.csv", b""), ("header.csv", b"id,text,path\n"), ("blank.jsonl", b"\n  \n\n"), ("empty.txt", b"")],
)
def test_files_without_documents_say_so(project, import_bytes, name, data):
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, name, data)
    assert "no documents found" in problems(exc)[0]
    assert Corpus.objects.count() == 0


def test_one_bad_row_rejects_the_whole_file(project, build_tree, import_bytes):
    build_tree(project, TREE)
    rows = "".join(f"{i},text {i},Sci > Med\n" for i in range(200))
    data = ("id,text,path\n" + rows + '999,"broken\n').encode()
    before = (Document.objects.count(), GoldLabel.objects.count(), Corpus.objects.count())
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.csv", data)
    assert problems(exc) == ["c.csv, line 202, column 5: this quoted field is never closed (unbalanced quote)"]
    assert (Document.objects.count(), GoldLabel.objects.count(), Corpus.objects.count()) == before


def test_encoding_error_is_reported_and_nothing_written(project, import_bytes):
    data = b"text\ncaf\xe9\n"
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "latin.csv", data)
    assert problems(exc) == [
        "latin.csv, line 2: byte offset 8: byte 0xe9 is not valid UTF-8 (is the file Windows-1252 or Latin-1?); "
        "save it as UTF-8"
    ]
    assert Document.objects.count() == 0


def test_limits_on_documents_and_characters(project, import_bytes, settings):
    settings.HTC_MAX_DOCUMENT_CHARS = 10
    settings.HTC_MAX_DOCUMENTS_PER_IMPORT = 2
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.txt", b"short\nthis one is too long\nthird\n")
    assert problems(exc) == [
        "c.txt, line 2, field text: 20 characters; the limit is 10",
        "c.txt, line 3: the file has more than 2 documents, the limit for one import",
    ]


def test_error_list_is_capped_with_a_count_of_the_rest(project, import_bytes):
    data = b"id,text\n" + b"".join(b"%d,\n" % i for i in range(80))
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.csv", data)
    messages = problems(exc)
    assert messages[:20] == [f"c.csv, line {i + 2}, field text: empty text" for i in range(20)]
    assert messages[20:] == ["... and 60 more problems.", "80 problems in all, by kind:", "80 × field text: empty text"]


def test_several_paths_need_a_multi_path_project(make_project, build_tree, import_bytes):
    data = b"id,text,path\n1,a,Sci > Med | Rec\n"
    single = make_project("Single")
    build_tree(single, TREE)
    with pytest.raises(ValidationError) as exc:
        import_bytes(single, "c.csv", data)
    assert problems(exc) == ["c.csv, line 2, field path: 2 paths, but this project allows one path per document"]
    multi = make_project("Multi", multi_path=True)
    build_tree(multi, TREE)
    import_bytes(multi, "c.csv", data)
    assert gold(multi) == {"1": ["Rec", "Sci > Med"]}


def test_leaf_only_projects_refuse_paths_to_internal_labels(project, build_tree, import_bytes):
    build_tree(project, TREE)
    project.allow_internal_labels = False
    project.save()
    data = b"text,path\na,Sci\nb,Sci > Med\nc,Rec > Autos > New\nd,Rec > Autos\n"
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.csv", data, add_missing_labels=True)
    assert problems(exc) == [
        "c.csv, line 2, field path: 'Sci' is not a leaf; this project only accepts paths to leaves",
        "c.csv, line 5, field path: 'Rec > Autos' is not a leaf; this project only accepts paths to leaves",
    ]


def test_seeded_random_split_is_exact_and_reproducible(make_project, import_bytes):
    data = "".join(f"document {i}\n" for i in range(100)).encode()

    def splits(name, seed):
        project = make_project(name)
        import_bytes(project, "c.txt", data, test_fraction=0.2, dev_fraction=0.1, seed=seed)
        return dict(Document.objects.filter(project=project).values_list("external_id", "split"))

    a, b, c = splits("A", 7), splits("B", 7), splits("C", 8)
    assert sorted(a.values()).count("test") == 20 and sorted(a.values()).count("dev") == 10
    assert list(a.values()).count("train") == 70
    assert a == b and a != c


def test_file_splits_win_and_fractions_only_fill_the_gaps(project, import_bytes):
    data = b"id,text,split\n1,a,test\n2,b,\n3,c,\n4,d,validation\n"
    import_bytes(project, "c.csv", data, test_fraction=0.0, dev_fraction=0.0)
    assert dict(Document.objects.values_list("external_id", "split")) == {
        "1": "test",
        "2": "train",
        "3": "train",
        "4": "dev",
    }


def test_no_fractions_and_no_split_column_leave_documents_unassigned(project, import_bytes):
    import_bytes(project, "c.txt", b"a\nb\n")
    assert set(Document.objects.values_list("split", flat=True)) == {""}


def test_bad_fractions_are_refused(project, import_bytes):
    with pytest.raises(ValidationError):
        import_bytes(project, "c.txt", b"a\n", test_fraction=0.7, dev_fraction=0.5)


def test_zip_import_reads_all_entries_and_rejects_unsafe_ones_atomically(project, build_tree, import_bytes):
    build_tree(project, TREE)
    good = make_zip(
        [("a.csv", b"id,text,path\n1,x,Sci\n"), ("b.jsonl", b'{"id": "2", "text": "y", "path": ["Rec"]}\n')]
    )
    import_bytes(project, "good.zip", good)
    assert gold(project) == {"1": ["Sci"], "2": ["Rec"]}
    bad = make_zip([("c.csv", b"id,text\n3,z\n"), ("../escape.csv", b"id,text\n4,w\n")])
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "bad.zip", bad)
    assert problems(exc) == ["bad.zip: unsafe entry name '../escape.csv': it contains '..'"]
    assert Document.objects.filter(project=project).count() == 2


def test_duplicate_ids_across_zip_entries_are_found(project, import_bytes):
    data = make_zip([("a.csv", b"id,text\n1,x\n"), ("b.csv", b"id,text\n1,y\n")])
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.zip", data)
    assert problems(exc) == ["c.zip/b.csv, line 2, field id: duplicate id '1' (already used earlier in the file)"]


def test_progress_reports_documents_read_then_the_total(project, import_bytes):
    calls = []
    import_bytes(
        project,
        "c.txt",
        "".join(f"doc {i}\n" for i in range(2500)).encode(),
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(2000, None), (2500, 2500)]


def test_file_names_are_reduced_to_their_base_name(project, import_bytes):
    corpus = import_bytes(project, "C:\\Users\\me\\..\\notes.txt", b"hello\n")
    assert corpus.source_filename == "notes.txt"
    assert Document.objects.get().external_id == "notes.txt:1"


def test_label_names_with_control_characters_are_refused_before_writing(project, import_bytes):
    data = b'{"id": "1", "text": "a", "path": ["Sci", "Bad\\u0007name"]}\n'
    with pytest.raises(ValidationError) as exc:
        import_bytes(project, "c.jsonl", data, add_missing_labels=True)
    assert problems(exc) == [
        "c.jsonl, line 1, field path: a label name contains a line break or another control character"
    ]
    assert Node.objects.count() == 0
