from classifiers.engine.baselines import TfidfLocalClassifier
from classifiers.engine.growth import changed_groups, forgetting_report, update_for_new_labels
from classifiers.engine.hierarchy import Hierarchy

WORDS = {
    ("Sport", "Football"): "goal striker penalty pitch",
    ("Sport", "Tennis"): "racket serve wimbledon deuce",
    ("Science", "Physics"): "quantum particle photon laser",
    ("Science", "Biology"): "cell gene protein enzyme",
}


def _docs(keys, n=6):
    texts, names = [], []
    for key in keys:
        words = WORDS[key].split()
        for i in range(n):
            texts.append(" ".join(words[j % 4] for j in range(i, i + 3)) + f" doc{i}")
            names.append(key)
    return texts, names


def test_split_node_update_keeps_untouched_predictions_and_learns_new_children():
    old_h = Hierarchy.from_paths([["Sport", "Football"], ["Sport", "Tennis"], ["Science"]])
    old_texts, old_names = _docs(list(WORDS))
    old_paths = [old_h.path_from_ids([k[0]] if k[0] == "Science" else [k[0], " > ".join(k)]) for k in old_names]
    old = TfidfLocalClassifier(min_df=1, ngram_range=(1, 1)).fit(old_texts, old_paths, old_h)

    new_h = Hierarchy.from_paths([list(k) for k in WORDS])
    assert [new_h.ids[p] if p >= 0 else None for p in changed_groups(old_h, new_h)] == ["Science"]
    new_texts, new_names = _docs([("Science", "Physics"), ("Science", "Biology")], n=4)
    new_paths = [new_h.path_from_ids([k[0], " > ".join(k)]) for k in new_names]

    new = update_for_new_labels(old, new_h, new_texts, new_paths, old_texts, old_paths, rehearsal=0.5, seed=1)

    probe = ["striker goal penalty", "wimbledon racket serve", "photon laser quantum", "protein enzyme gene"]
    old_pred = [old_h.path_label(p[0]) for p in old.predict(probe)]
    new_pred = [new_h.path_label(p[0]) for p in new.predict(probe)]
    assert new_pred[:2] == old_pred[:2] == ["Sport > Football", "Sport > Tennis"]
    assert new_pred[2:] == ["Science > Physics", "Science > Biology"]
    assert old.hierarchy_ is old_h  # the old estimator is untouched
    report = forgetting_report(old, new, old_texts, old_paths)
    assert report["before"] == 1.0 and report["after"] >= 0.9


def test_forgetting_figures_on_a_hand_checked_case():
    from classifiers.engine.growth import forgetting_figures, prefix_accuracy

    # node ids: 1 Sport > 2 Football, 3 Tennis; 4 Science > 5 Physics (new), 6 Biology (new)
    gold = [[1, 2], [1, 3], [1, 3], [1, 2], [4, 5], [4, 6], [4]]
    before = [[1, 2], [1, 3], [1, 2], [1, 2], [4], [4], [4]]
    after = [[1, 2], [1, 2], [1, 2], [1, 2], [4, 5], [4, 5], [4, 6]]
    old = [True, True, True, True, False, False, False]  # the last three touch the split node
    new = [False, False, False, False, True, True, False]
    report = forgetting_figures(gold, before, after, old, new)
    # old labels: before right on docs 0, 1, 3 (3/4); after right on 0, 3 (2/4); docs 0, 2, 3 unchanged
    assert report["old_labels"] == {
        "documents": 4,
        "before": 0.75,
        "after": 0.5,
        "drop": 0.25,
        "unchanged_predictions": 3,
    }
    # new labels: the old model stops at Science (0/2); after, Physics right, Biology wrong (1/2)
    assert report["new_labels"] == {"documents": 2, "before": 0.0, "after": 0.5}
    # a prediction going on below the gold node counts as right; no documents gives None
    assert prefix_accuracy([[4, 6]], [[4]]) == 1.0
    assert prefix_accuracy([], []) is None
    empty = forgetting_figures(gold, before, after, [False] * 7, [False] * 7)
    assert empty["old_labels"]["before"] is None and empty["old_labels"]["drop"] is None


def test_rehearsal_sample_takes_a_share_or_a_count():
    from classifiers.engine.growth import rehearsal_sample

    assert len(rehearsal_sample(20, 0.25, seed=3)) == 5
    assert rehearsal_sample(20, 1.0, seed=3) == list(range(20))
    assert len(rehearsal_sample(20, 7, seed=3)) == 7
    assert rehearsal_sample(20, 0.5, seed=3) == rehearsal_sample(20, 0.5, seed=3)  # seeded
    assert rehearsal_sample(0, 0.5, seed=3) == []
