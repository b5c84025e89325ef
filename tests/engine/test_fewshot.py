"""Few-shot sampling: K documents per leaf path, seeded and reproducible."""

from collections import Counter

from classifiers.engine.fewshot import sample_few_shot


def _corpus():
    # 3 leaves (paths end at 1, 2, 3), 10 documents each, plus one document with two paths.
    docs = [[(0, leaf)] for leaf in (1, 2, 3) for _ in range(10)]
    docs.append([(0, 1), (0, 2)])
    return docs


def test_k_documents_per_leaf_path():
    docs = _corpus()
    picked = sample_few_shot(docs, 4, seed=550)
    per_leaf = Counter(p[-1] for i in picked for p in docs[i])
    assert all(per_leaf[leaf] >= 4 for leaf in (1, 2, 3))
    assert len(picked) <= 12 and picked == sorted(picked) and len(set(picked)) == len(picked)


def test_seeded_and_reproducible():
    docs = _corpus()
    assert sample_few_shot(docs, 2, seed=1) == sample_few_shot(docs, 2, seed=1)
    samples = {tuple(sample_few_shot(docs, 2, seed=s)) for s in range(5)}
    assert len(samples) > 1


def test_zero_shots_means_every_document():
    docs = _corpus()
    assert sample_few_shot(docs, 0, seed=3) == list(range(len(docs)))


def test_a_leaf_with_fewer_documents_gives_what_it_has():
    docs = [[(0, 1)]] * 2 + [[(0, 2)]] * 10
    picked = sample_few_shot(docs, 5, seed=0)
    assert Counter(docs[i][0][-1] for i in picked) == {1: 2, 2: 5}
