"""The real 20 Newsgroups corpus imports whole: counts, labels per level and the bydate split."""

from __future__ import annotations

import pytest

from corpora.models import Document, GoldLabel
from taxonomies.models import Node
from tests.conftest import SHARED_DATASETS

NG = SHARED_DATASETS / "20newsgroups" / "20newsgroups.jsonl"


@pytest.mark.dataset
@pytest.mark.slow
def test_import_20newsgroups(project):
    if not NG.exists():
        pytest.skip(f"20 Newsgroups is not available at {NG}")
    from corpora.services import corpus_import

    with open(NG, "rb") as fh:
        corpus = corpus_import(project=project, file_name=NG.name, fileobj=fh, actor=None, add_missing_labels=True)
    assert Document.objects.filter(corpus=corpus).count() == 18_846
    assert Node.objects.filter(taxonomy=project.taxonomy, depth=1).count() == 7
    assert Node.objects.filter(taxonomy=project.taxonomy, depth=2).count() == 20
    assert corpus.stats["splits"] == {"train": 11_314, "test": 7_532}
    assert GoldLabel.objects.filter(document__corpus=corpus).count() == 18_846
    med = Document.objects.get(project=project, external_id="train/sci.med/59207")
    assert [g.node.name for g in med.gold_labels.select_related("node")] == ["sci.med"]
