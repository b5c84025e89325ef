"""HierVerb strategy: tiny BERT checkpoints built in tmp dirs, plus one MiniLM learning test (slow)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from classifiers.engine.base import decode_best_path
from classifiers.engine.hierarchy import Hierarchy
from classifiers.engine.plm import PromptEncoder, load_plm
from classifiers.engine.verbalizer import HierVerbClassifier, thresholded_paths

TREE = {
    "sports": {"football": ["goal", "striker", "penalty"], "tennis": ["racket", "serve", "volley"]},
    "cooking": {"baking": ["oven", "flour", "dough"], "soup": ["broth", "ladle", "simmer"]},
}
FILLER = ["the", "a", "of", "and", "some", "about", "with", "today"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PROMPT_WORDS = ["it", "was", "level", ":", ".", "1", "2", "3"]


def tiny_vocab() -> list[str]:
    words = list(TREE) + [leaf for kids in TREE.values() for leaf in kids]
    words += [w for kids in TREE.values() for ws in kids.values() for w in ws]
    return SPECIALS + PROMPT_WORDS + FILLER + words


def write_tiny_checkpoint(directory, *, mlm_head: bool, seed: int = 0) -> str:
    from transformers import BertConfig, BertForMaskedLM, BertModel, BertTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    vocab_file = directory / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n")
    BertTokenizer(vocab=str(vocab_file)).save_pretrained(str(directory))
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    torch.manual_seed(seed)
    model = BertForMaskedLM(config) if mlm_head else BertModel(config)
    if mlm_head:  # make the head transform clearly not an identity
        with torch.no_grad():
            model.cls.predictions.transform.dense.weight.normal_(0.0, 0.3)
            model.cls.predictions.transform.LayerNorm.weight.uniform_(0.5, 1.5)
    model.save_pretrained(str(directory))
    return str(directory)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Two cores shared by many processes: intra-op threads spin and make tiny models ~50x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory) -> str:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_mlm"), mlm_head=True)


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory) -> str:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_enc"), mlm_head=False)


def corpus(hierarchy: Hierarchy, per_leaf: int, seed: int, n_filler: int = 6):
    rng = random.Random(seed)
    texts, paths = [], []
    for parent, kids in TREE.items():
        for leaf, words in kids.items():
            for _ in range(per_leaf):
                tokens = rng.sample(words, 2) + [rng.choice(FILLER) for _ in range(n_filler)]
                rng.shuffle(tokens)
                texts.append(" ".join(tokens))
                paths.append(hierarchy.path_from_names([parent, leaf]))
    return texts, paths


@pytest.fixture
def hierarchy() -> Hierarchy:
    return Hierarchy.from_paths([[p, c] for p, kids in TREE.items() for c in kids])


def tiny(path: str, **params) -> HierVerbClassifier:
    """The [MASK]-state verbalizer (features="mask") unless `features` says otherwise."""
    defaults = dict(
        encoder_path=path,
        features="mask",
        max_length=24,
        batch_size=4,
        epochs=2,
        lr=1e-3,
        lr_verbalizer=1e-2,
        seed=3,
    )
    return HierVerbClassifier(**{**defaults, **params})


def test_prompt_precedes_text_and_survives_truncation(tiny_mlm):
    plm = load_plm(tiny_mlm)
    encoder = PromptEncoder(plm.tokenizer, "it was 1 level: [MASK] 2 level: [MASK].", max_length=16)
    ids = encoder.encode(["goal " * 50, "oven"])
    assert len(ids[0]) == 16 and len(ids[1]) < 16
    for row in ids:
        assert [row[p] for p in encoder.mask_positions] == [plm.mask_token_id] * 2
        assert row[0] == plm.tokenizer.cls_token_id and row[-1] == plm.tokenizer.sep_token_id
    assert plm.tokenizer.convert_ids_to_tokens(ids[1][-2]) == "oven"


def test_label_vectors_start_from_names_and_add_children_mean(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 1, seed=0)
    clf = tiny(tiny_encoder, epochs=0, label_init="tokens").fit(texts, paths, hierarchy)
    table = load_plm(tiny_encoder).input_embeddings()
    vocab = {w: i for i, w in enumerate(tiny_vocab())}
    leaves = clf.net_.label_vectors[1].detach()
    for pos, node in enumerate(hierarchy.levels[1]):
        assert torch.allclose(leaves[pos], table[vocab[hierarchy.names[node]]])
    for pos, node in enumerate(hierarchy.levels[0]):
        kids = [table[vocab[hierarchy.names[c]]] for c in hierarchy.children[node]]
        expected = table[vocab[hierarchy.names[node]]] + torch.stack(kids).mean(0)
        assert torch.allclose(clf.net_.label_vectors[0][pos].detach(), expected, atol=1e-6)
    without = tiny(tiny_encoder, epochs=0, label_init="tokens", use_hier_mean=False).fit(texts, paths, hierarchy)
    assert torch.allclose(
        without.net_.label_vectors[0][0].detach(), table[vocab[hierarchy.names[hierarchy.levels[0][0]]]]
    )


def test_auto_label_init_uses_tokens_with_an_mlm_head_and_mask_states_without(tiny_mlm, tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 1, seed=0)
    for path, expected_mode in ((tiny_mlm, "tokens"), (tiny_encoder, "prompt")):
        auto = tiny(path, epochs=0, use_hier_mean=False).fit(texts, paths, hierarchy)
        explicit = tiny(path, epochs=0, use_hier_mean=False, label_init=expected_mode).fit(texts, paths, hierarchy)
        for a, b in zip(auto.net_.label_vectors, explicit.net_.label_vectors, strict=True):
            assert torch.equal(a, b)
    # "prompt": the transformed mask state of the node's own path, at the node's level, rescaled
    clf = tiny(tiny_encoder, epochs=0, use_hier_mean=False, label_init="prompt").fit(texts, paths, hierarchy)
    leaf = hierarchy.levels[1][0]
    ids = torch.tensor(clf.prompt_.encode([" > ".join(hierarchy.path_names(hierarchy.path_to(leaf)))]))
    with torch.no_grad():
        hidden = clf.net_.encoder(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        state = clf.net_.transform(hidden[0, clf.prompt_.mask_positions[1]])
    cosine = torch.nn.functional.cosine_similarity(state, clf.net_.label_vectors[1][0].detach(), dim=0)
    assert float(cosine) == pytest.approx(1.0, abs=1e-5)


def test_mlm_head_transform_is_used_when_the_checkpoint_has_one(tiny_mlm, tiny_encoder, hierarchy):
    from transformers import BertForMaskedLM

    texts, paths = corpus(hierarchy, 1, seed=0)
    clf = tiny(tiny_mlm, epochs=0).fit(texts, paths, hierarchy)
    assert clf.has_mlm_head_
    head = BertForMaskedLM.from_pretrained(tiny_mlm).eval()
    assert torch.equal(clf.net_.transform.dense.weight, head.cls.predictions.transform.dense.weight)
    # logits = W_l . transform(h_mask_l): recompute with the checkpoint's own head transform
    ids = clf.prompt_.encode(texts[:2])
    input_ids = torch.tensor(ids)
    with torch.no_grad():
        hidden = head.bert(input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
        feats = head.cls.predictions.transform(hidden[:, clf.prompt_.mask_positions, :])
        expected = torch.softmax(feats[:, 1, :] @ clf.net_.label_vectors[1].T, -1).numpy()
    assert np.allclose(clf.predict_scores(texts[:2])[1], expected, atol=1e-5)

    plain = tiny(tiny_encoder, epochs=0).fit(texts, paths, hierarchy)
    assert not plain.has_mlm_head_
    assert torch.equal(plain.net_.transform.dense.weight, torch.eye(32))


def test_save_load_round_trip_predicts_identically(tiny_mlm, hierarchy, tmp_path):
    texts, paths = corpus(hierarchy, 3, seed=1)
    clf = tiny(tiny_mlm, lm_training=True).fit(texts, paths, hierarchy)
    clf.save(tmp_path / "model")
    loaded = HierVerbClassifier.load(tmp_path / "model")
    test_texts, _ = corpus(hierarchy, 2, seed=2)
    for a, b in zip(clf.predict_scores(test_texts), loaded.predict_scores(test_texts), strict=True):
        assert np.array_equal(a, b)
    assert loaded.predict(test_texts) == clf.predict(test_texts)
    assert not list(tmp_path.glob("model/*.pkl")) and not list(tmp_path.glob("model/*.bin"))


def test_lora_trains_an_adapter_only_and_round_trips(tiny_mlm, hierarchy, tmp_path):
    from classifiers.engine.base import load_tensors

    texts, paths = corpus(hierarchy, 3, seed=1)
    clf = tiny(tiny_mlm, lora=True, lora_r=4, lora_alpha=8).fit(texts, paths, hierarchy)
    base = load_plm(tiny_mlm).encoder.state_dict()
    tuned = {
        k.replace("base_model.model.", "").replace(".base_layer", ""): v
        for k, v in clf.net_.encoder.state_dict().items()
    }
    assert torch.equal(
        tuned["encoder.layer.0.attention.self.query.weight"], base["encoder.layer.0.attention.self.query.weight"]
    )
    clf.save(tmp_path / "lora")
    names = set(load_tensors(tmp_path / "lora" / "tensors.safetensors"))
    assert any(n.startswith("adapter.") and "lora_A" in n for n in names)
    assert not any(n.startswith("encoder.") for n in names)
    loaded = HierVerbClassifier.load(tmp_path / "lora")
    test_texts, _ = corpus(hierarchy, 2, seed=2)
    for a, b in zip(clf.predict_scores(test_texts), loaded.predict_scores(test_texts), strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_scores_are_per_level_distributions_in_input_order(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1, n_filler=3)
    texts = [t + " the" * i for i, t in enumerate(texts)]  # different lengths -> length-sorted batches
    clf = tiny(tiny_encoder, epochs=1, eval_batch_size=3).fit(texts, paths, hierarchy)
    scores = clf.predict_scores(texts)
    assert [s.shape for s in scores] == [(len(texts), 2), (len(texts), 4)]
    assert np.allclose(scores[0].sum(1), 1.0, atol=1e-5) and np.allclose(scores[1].sum(1), 1.0, atol=1e-5)
    reversed_scores = clf.predict_scores(texts[::-1])
    assert np.allclose(reversed_scores[1][::-1], scores[1], atol=1e-5)


def test_best_path_decoding_always_gives_valid_paths(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1)
    clf = tiny(tiny_encoder, epochs=1, decode="best_path").fit(texts, paths, hierarchy)
    predicted = clf.predict(texts)
    assert all(len(p) == 1 and hierarchy.is_valid_path(p[0]) for p in predicted)
    assert [p[0] for p in predicted] == decode_best_path(clf.predict_scores(texts), hierarchy)


def test_fit_is_seeded(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1)
    a = tiny(tiny_encoder, epochs=1).fit(texts, paths, hierarchy).predict_scores(texts)
    b = tiny(tiny_encoder, epochs=1).fit(texts, paths, hierarchy).predict_scores(texts)
    c = tiny(tiny_encoder, epochs=1, seed=4).fit(texts, paths, hierarchy).predict_scores(texts)
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_progress_reports_every_step_and_can_cancel(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1)  # 8 docs, batch 4 -> 2 steps per epoch
    calls = []
    tiny(tiny_encoder, epochs=2).fit(texts, paths, hierarchy, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]

    def cancel(done, total):
        if done == 2:
            raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        tiny(tiny_encoder, epochs=2).fit(texts, paths, hierarchy, progress=cancel)


def test_early_stopping_stops_when_dev_score_does_not_improve(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1)
    frozen = dict(lr=0.0, lr_verbalizer=0.0, lr_transform=0.0, epochs=5, patience=2)
    clf = tiny(tiny_encoder, **frozen).fit(texts, paths, hierarchy, dev=(texts, paths))
    assert len(clf.history_) == 3  # best at epoch 1, then two epochs without improvement
    assert all("dev_macro_f1" in record for record in clf.history_)


def test_a_time_limit_shortens_the_schedule_to_end_in_time(tiny_encoder, hierarchy, monkeypatch):
    """Steps that take 10 s (a slower machine than planned) and 75 s allowed: after the timed steps the schedule
    is cut to the 7 steps that fit, the progress bar's total with it, and the learning rate still ends at 0."""
    import itertools

    from classifiers.engine import verbalizer

    texts, paths = corpus(hierarchy, 4, seed=1)  # 16 docs, batch 4 -> 4 steps per epoch, 5 epochs planned
    ticks = itertools.count()
    monkeypatch.setattr(verbalizer, "clock", lambda: 10.0 * next(ticks))  # one tick at the start, one per step
    rates, calls = [], []
    real_step = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    clf = tiny(tiny_encoder, epochs=5, time_limit=75).fit(
        texts, paths, hierarchy, progress=lambda d, t: calls.append((d, t))
    )
    assert clf.time_limited_ == (20, 7)
    assert calls == [(1, 20), (2, 20), (3, 20), (4, 7), (5, 7), (6, 7), (7, 7)]
    assert [record["epoch"] for record in clf.history_] == [1, 2]
    assert len(rates) == 7 and rates[4] > rates[5] > rates[6] > 0  # decays towards 0 at step 7, not 20
    assert rates[6] == pytest.approx(rates[4] / 3)  # 3, 2, 1 steps left of the cut at step 4 (uncut: 16 / 14)
    assert len(clf.predict(texts)) == len(texts)

    ticks = itertools.count()
    rates.clear()
    plain = tiny(tiny_encoder, epochs=5).fit(texts, paths, hierarchy)
    assert plain.time_limited_ is None and len(plain.history_) == 5 and len(rates) == 20


def test_shortening_a_linear_schedule_keeps_the_rate_continuous():
    from classifiers.engine.plm import LinearFactor

    decaying = LinearFactor(20, warm=2)
    before = decaying(10)
    decaying.end_at(10, 15)
    assert decaying(10) == pytest.approx(before) and decaying(15) == 0.0
    assert decaying(11) - decaying(12) == pytest.approx(decaying(12) - decaying(13))
    decaying.end_at(12, 30)  # never later than planned
    assert decaying.total == 15
    warming = LinearFactor(100, warm=10)
    warming.end_at(4, 20)
    assert warming.warm == 4 and warming.total == 20  # the warm-up shrinks with the schedule
    assert warming(3) < warming(4) == pytest.approx(1.0) and warming(20) == 0.0


def test_thresholded_paths_returns_every_maximal_passing_path():
    h = Hierarchy.from_paths([["A", "a1"], ["A", "a2"], ["B", "b1"], ["C"]])
    level1 = np.array([[0.9, 0.8, 0.7]])  # A, B, C
    level2 = np.array([[0.6, 0.2, 0.3]])  # a1, a2, b1
    found = thresholded_paths([level1, level2], h, 0, 0.5)
    expected = sorted([h.path_from_names(["A", "a1"]), h.path_from_names(["B"]), h.path_from_names(["C"])])
    assert found == expected


def test_multi_label_predicts_valid_paths_and_at_least_one(tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 2, seed=1)
    multi = [[p, hierarchy.path_from_names(["cooking", "soup"])] if i % 3 == 0 else [p] for i, p in enumerate(paths)]
    clf = tiny(tiny_encoder, epochs=1, multi_label=True, threshold=0.99).fit(texts, multi, hierarchy)
    predicted = clf.predict(texts)
    assert all(len(p) >= 1 and all(hierarchy.is_valid_path(x) for x in p) for p in predicted)
    low = clf.set_params(threshold=0.0).predict(texts[:1])
    assert len(low[0]) == len(hierarchy.leaf_paths())


@pytest.mark.slow
def test_hierverb_on_minilm_matches_or_beats_the_embedding_baseline_on_few_shots():
    """3x3 synthetic taxonomy, 4 documents per leaf; the distinctive words are diluted by filler.

    The margin is thin on data this easy (embed + logistic regression reaches ~0.99; hierverb 1.0 on the
    data seeds tried), so the test asserts "at least as good", not a gap."""
    from classifiers.engine.baselines import EmbeddingLocalClassifier

    words = {
        ("sports", "football"): ["goal", "striker", "penalty", "stadium"],
        ("sports", "tennis"): ["racket", "serve", "wimbledon", "volley"],
        ("sports", "swimming"): ["pool", "freestyle", "lane", "butterfly"],
        ("cooking", "baking"): ["oven", "flour", "dough", "cake"],
        ("cooking", "grilling"): ["barbecue", "charcoal", "steak", "skewer"],
        ("cooking", "soup"): ["broth", "ladle", "simmer", "stock"],
        ("computing", "databases"): ["query", "index", "table", "transaction"],
        ("computing", "networks"): ["router", "packet", "bandwidth", "latency"],
        ("computing", "graphics"): ["shader", "pixel", "render", "texture"],
    }
    filler = "the a of and some about was it this that with very quite then today people".split()
    h = Hierarchy.from_paths([list(k) for k in words])

    def make(per_leaf, seed):
        rng = random.Random(seed)
        texts, paths = [], []
        for key, ws in words.items():
            for _ in range(per_leaf):
                tokens = rng.sample(ws, 2) + [rng.choice(filler) for _ in range(14)]
                rng.shuffle(tokens)
                texts.append(" ".join(tokens))
                paths.append(h.path_from_names(list(key)))
        return texts, paths

    train, train_paths = make(4, 1)
    test, test_paths = make(10, 2)
    embed = EmbeddingLocalClassifier(max_length=32).fit(train, train_paths, h)
    params = dict(max_length=32, lr=2e-4, lr_verbalizer=1e-3, seed=550, epochs=5)
    zero_shot = HierVerbClassifier(**{**params, "epochs": 0}).fit(train, train_paths, h)
    clf = HierVerbClassifier(**params).fit(train, train_paths, h)
    assert not clf.has_mlm_head_ and clf.features_ == "pooled"  # MiniLM ships no MLM head: its pooled state

    def accuracy(model):
        return float(np.mean([p[0] == g for p, g in zip(model.predict(test), test_paths, strict=True)]))

    hierverb_acc, embed_acc, zero_acc = accuracy(clf), accuracy(embed), accuracy(zero_shot)
    assert zero_acc >= 3 / 9, zero_acc  # path-text init alone (the zero-shot classifier): well above chance (1/9)
    assert hierverb_acc >= embed_acc, (hierverb_acc, embed_acc)
    assert hierverb_acc >= 0.95, (hierverb_acc, embed_acc)


# ----- pooled features (sentence encoders) -----
def test_features_auto_pools_without_an_mlm_head_and_uses_mask_states_with_one(tiny_mlm, tiny_encoder, hierarchy):
    texts, paths = corpus(hierarchy, 1, seed=0)
    pooled = tiny(tiny_encoder, features="auto", epochs=0).fit(texts, paths, hierarchy)
    masked = tiny(tiny_mlm, features="auto", epochs=0).fit(texts, paths, hierarchy)
    assert pooled.features_ == "pooled" and pooled.prompt_ is None and pooled.decode_ == "top_down"
    assert masked.features_ == "mask" and masked.prompt_ is not None and masked.decode_ == "argmax"
    # pooled: the text alone, no prompt
    assert pooled.token_ids(["goal oven"])[0] == load_plm(tiny_encoder).tokenizer("goal oven")["input_ids"]


def test_pooled_label_vectors_are_the_path_text_embeddings(tiny_encoder, hierarchy):
    from classifiers.engine.zeroshot import path_texts

    texts, paths = corpus(hierarchy, 1, seed=0)
    clf = tiny(tiny_encoder, features="pooled", epochs=0).fit(texts, paths, hierarchy)
    ids = clf.token_ids(path_texts(hierarchy))
    for node in range(len(hierarchy)):
        x = torch.tensor([ids[node]])
        with torch.no_grad():
            expected = clf.net_.pooled(x, torch.ones_like(x))[0]
        assert torch.allclose(clf.net_.path_vectors[node].detach(), expected, atol=1e-5)
        level = hierarchy.depth[node] - 1
        assert torch.allclose(clf.net_.label_vectors[level][hierarchy.level_pos[node]].detach(), expected, atol=1e-5)


def test_pooled_training_round_trips_and_is_seeded(tiny_encoder, hierarchy, tmp_path):
    texts, paths = corpus(hierarchy, 3, seed=1)
    clf = tiny(tiny_encoder, features="pooled", epochs=2).fit(texts, paths, hierarchy)
    again = tiny(tiny_encoder, features="pooled", epochs=2).fit(texts, paths, hierarchy)
    test_texts, _ = corpus(hierarchy, 2, seed=2)
    scores = clf.predict_scores(test_texts)
    assert [s.shape for s in scores] == [(8, 2), (8, 4)]
    assert np.allclose(scores[1].sum(1), 1.0, atol=1e-5)
    assert np.array_equal(scores[1], again.predict_scores(test_texts)[1])
    clf.save(tmp_path / "pooled")
    loaded = HierVerbClassifier.load(tmp_path / "pooled")
    assert loaded.features_ == "pooled" and loaded.device_ == "cpu"
    for a, b in zip(scores, loaded.predict_scores(test_texts), strict=True):
        assert np.allclose(a, b, atol=1e-6)
    assert loaded.predict(test_texts) == clf.predict(test_texts)


def test_pooled_lora_keeps_the_base_encoder(tiny_encoder, hierarchy, tmp_path):
    texts, paths = corpus(hierarchy, 2, seed=1)
    clf = tiny(tiny_encoder, features="pooled", lora=True, lora_r=4, lora_alpha=8, epochs=1).fit(
        texts, paths, hierarchy
    )
    clf.save(tmp_path / "lora")
    loaded = HierVerbClassifier.load(tmp_path / "lora")
    for a, b in zip(clf.predict_scores(texts), loaded.predict_scores(texts), strict=True):
        assert np.allclose(a, b, atol=1e-6)


def test_epochs_auto_scale_down_as_documents_per_path_grow(tiny_encoder, hierarchy):
    from classifiers.engine.verbalizer import auto_epochs

    assert [auto_epochs(k) for k in (1, 4, 16, 64, 500)] == [40, 25, 15, 8, 4]
    one = [hierarchy.path_from_names(["sports", "football"]), hierarchy.path_from_names(["cooking", "soup"])]
    assert HierVerbClassifier().epochs_for(one) == 40
    assert HierVerbClassifier().epochs_for(one * 16) == 15
    assert HierVerbClassifier(epochs=3).epochs_for(one * 16) == 3


def test_warm_up_then_linear_decay():
    from classifiers.engine.plm import linear_schedule

    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    schedule = linear_schedule(optimizer, 10, warmup_steps=2)
    rates = []
    for _ in range(10):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[0] < rates[1] < rates[2] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(rates[2:], rates[3:], strict=False))


MINILM_WORDS = {
    ("qzv", "football"): "The striker scored a goal and the football fans cheered in the stadium.",
    ("qzv", "cooking"): "Knead the dough, add flour and sugar, and bake the cake in a hot oven.",
    ("wxk", "astronomy"): "The telescope observed a distant galaxy, planets and stars in the night sky.",
    ("wxk", "medicine"): "The doctor prescribed antibiotics to treat the patient's infection in hospital.",
    ("jfp", "politics"): "Parliament voted on the new law after the election campaign of the party.",
    ("jfp", "music"): "The guitarist played a song on stage while the drummer kept the rhythm.",
}


@pytest.mark.slow
def test_pooled_hierverb_before_any_training_step_is_the_zero_shot_classifier():
    """Step 0 of the sentence-encoder verbalizer: the whole-path vectors are the path-text embeddings and the
    features the encoder's own pooling, so its scores are zero-shot's (fails if the initialisation changes)."""
    from classifiers.engine.zeroshot import ZeroShotClassifier

    h = Hierarchy.from_paths([list(k) for k in MINILM_WORDS])
    texts = list(MINILM_WORDS.values()) + ["A long match: the goalkeeper saved a penalty. " * 5]
    paths = [h.path_from_names(list(k)) for k in MINILM_WORDS] + [h.path_from_names(["qzv", "football"])]
    clf = HierVerbClassifier(epochs=0, max_length=64).fit(texts, paths, h)
    zs = ZeroShotClassifier(max_length=64).fit([], [], h)
    assert clf.features_ == "pooled"
    for a, b in zip(clf.predict_scores(texts), zs.predict_scores(texts), strict=True):
        assert np.allclose(a, b, atol=1e-4)
    assert clf.predict(texts) == zs.predict(texts)


@pytest.mark.slow
def test_pooled_hierverb_learns_from_one_step_because_it_starts_from_the_label_paths():
    """Level-1 names are meaningless; one short epoch on one document per leaf at a tiny learning rate.
    Started from zero or random vectors it would be at chance (1/6); from the path texts it is near perfect."""
    h = Hierarchy.from_paths([list(k) for k in MINILM_WORDS])
    train = list(MINILM_WORDS.values())
    paths = [h.path_from_names(list(k)) for k in MINILM_WORDS]
    test_docs = {
        ("qzv", "football"): "The referee showed a red card after the foul in the second half of the match.",
        ("qzv", "cooking"): "Simmer the sauce, chop the onions and season the soup before serving dinner.",
        ("wxk", "astronomy"): "Astronomers measured the orbit of the comet around the sun.",
        ("wxk", "medicine"): "Nurses gave the patient a vaccine and checked the blood pressure.",
        ("jfp", "politics"): "The minister resigned after the parliament debate on taxes.",
        ("jfp", "music"): "The orchestra performed a symphony and the pianist played a concerto.",
    }
    clf = HierVerbClassifier(epochs=1, max_length=64, lr=1e-6, lr_verbalizer=1e-5, batch_size=6).fit(train, paths, h)
    predicted = clf.predict(list(test_docs.values()))
    gold = [[h.path_from_names(list(k))] for k in test_docs]
    exact = float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)]))
    assert exact >= 5 / 6
