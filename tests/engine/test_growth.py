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
