"""A tiny 2-level corpus with distinctive words per leaf, for fast classifier tests."""

from __future__ import annotations

import random

# top label -> leaf -> the words its documents are made of
WORDS = {
    "Sports": {
        "Football": ["goal", "striker", "penalty", "midfield", "offside", "keeper"],
        "Tennis": ["serve", "racket", "deuce", "volley", "baseline", "wimbledon"],
    },
    "Food": {
        "Baking": ["oven", "flour", "dough", "yeast", "pastry", "crust"],
        "Grilling": ["charcoal", "barbecue", "skewer", "smoke", "brisket", "grill"],
    },
    "Science": {
        "Physics": ["quantum", "photon", "particle", "momentum", "relativity", "electron"],
        "Biology": ["cell", "protein", "enzyme", "genome", "mitochondria", "species"],
    },
}
FILLER = ["the", "a", "report", "today", "people", "said", "about", "new", "week", "story"]
SPLIT_PLAN = ["train", "train", "train", "train", "dev", "test", "test"]  # per leaf: 4 train, 1 dev, 2 test


def leaf_paths() -> list[tuple[str, str]]:
    return [(top, leaf) for top, leaves in WORDS.items() for leaf in leaves]


def documents(seed: int = 7) -> list[dict]:
    """42 documents: {id, text, split, path: [top, leaf]} (7 per leaf)."""
    rng = random.Random(seed)
    out = []
    for top, leaf in leaf_paths():
        for k, split in enumerate(SPLIT_PLAN):
            words = rng.sample(WORDS[top][leaf], 4) + rng.sample(FILLER, 4)
            rng.shuffle(words)
            out.append({"id": f"{leaf.lower()}-{k}", "text": " ".join(words), "split": split, "path": [top, leaf]})
    return out


def load_into(project, docs: list[dict] | None = None) -> dict:
    """Write the taxonomy and documents straight through the ORM; returns {name path: node}."""
    from corpora.models import Corpus, Document, GoldLabel
    from taxonomies.services import node_ensure_path

    docs = docs if docs is not None else documents()
    nodes = {}
    for top, leaf in leaf_paths():
        node = node_ensure_path(taxonomy=project.taxonomy, names=[top, leaf])
        nodes[(top, leaf)] = node
        nodes[(top,)] = node.parent
    corpus = Corpus.objects.create(project=project, name="tiny")
    made = Document.objects.bulk_create(
        Document(
            project=project, corpus=corpus, external_id=d["id"], text=d["text"], split=d["split"], length=len(d["text"])
        )
        for d in docs
    )
    GoldLabel.objects.bulk_create(
        GoldLabel(document=doc, node=nodes[tuple(d["path"])]) for doc, d in zip(made, docs, strict=True)
    )
    project.taxonomy.refresh_from_db()
    return nodes
