"""The linear-chain CRF against brute-force enumeration of every tag sequence."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from classifiers.engine.crf import LinearChainCRF


def _random_crf(num_tags: int, seed: int) -> LinearChainCRF:
    torch.manual_seed(seed)
    crf = LinearChainCRF(num_tags)
    with torch.no_grad():
        crf.start.normal_()
        crf.end.normal_()
        crf.transitions.normal_()
    return crf


@torch.no_grad()
def _brute_scores(crf, emissions, length, allowed=None, start_allowed=None):
    """Every sequence of `length` tags with its score (None when it uses a forbidden move)."""
    out = {}
    for seq in itertools.product(range(crf.num_tags), repeat=length):
        if start_allowed is not None and not start_allowed[seq[0]]:
            out[seq] = None
            continue
        score = float(crf.start[seq[0]] + emissions[0, seq[0]] + crf.end[seq[-1]])
        ok = True
        for t in range(1, length):
            step = allowed[t - 1] if allowed is not None and allowed.dim() == 3 else allowed
            if step is not None and not step[seq[t - 1], seq[t]]:
                ok = False
            score += float(crf.transitions[seq[t - 1], seq[t]] + emissions[t, seq[t]])
        out[seq] = score if ok else None
    return out


def _batch(num_tags: int, lengths: list[int], seed: int):
    gen = torch.Generator().manual_seed(seed)
    emissions = torch.randn(len(lengths), max(lengths), num_tags, generator=gen)
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
    for i, n in enumerate(lengths):
        mask[i, :n] = True
    return emissions, mask


@pytest.mark.parametrize("seed", range(4))
def test_viterbi_matches_brute_force_with_ragged_masks(seed):
    crf = _random_crf(3, seed)
    lengths = [4, 1, 3, 2]
    emissions, mask = _batch(3, lengths, seed)
    tags, scores = crf.viterbi(emissions, mask)
    for i, n in enumerate(lengths):
        table = _brute_scores(crf, emissions[i], n)
        best_seq = max(table, key=table.get)
        assert tuple(tags[i, :n].tolist()) == best_seq
        assert (tags[i, n:] == -1).all()
        assert scores[i].item() == pytest.approx(table[best_seq], abs=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_log_partition_and_nll_match_brute_force(seed):
    crf = _random_crf(3, 10 + seed)
    lengths = [3, 2, 4]
    emissions, mask = _batch(3, lengths, seed)
    tags = torch.randint(0, 3, (len(lengths), max(lengths)), generator=torch.Generator().manual_seed(seed))
    nll = crf.neg_log_likelihood(emissions, tags, mask, reduction="none")
    for i, n in enumerate(lengths):
        table = _brute_scores(crf, emissions[i], n)
        log_z = math.log(sum(math.exp(s) for s in table.values()))
        gold = table[tuple(tags[i, :n].tolist())]
        assert nll[i].item() == pytest.approx(log_z - gold, abs=1e-4)
    assert crf.neg_log_likelihood(emissions, tags, mask).item() == pytest.approx(nll.sum().item(), rel=1e-5)


@pytest.mark.parametrize("constrained", [False, True])
def test_marginals_match_brute_force(constrained):
    crf = _random_crf(3, 7)
    lengths = [4, 2]
    emissions, mask = _batch(3, lengths, 7)
    allowed = start_allowed = None
    if constrained:
        allowed = torch.rand((3, 3, 3), generator=torch.Generator().manual_seed(1)) < 0.6
        allowed[:, 0, 1] = allowed[:, 1, 0] = True
        start_allowed = torch.tensor([True, True, False])
    post = crf.marginals(emissions, mask, allowed, start_allowed)
    for i, n in enumerate(lengths):
        table = {
            seq: v for seq, v in _brute_scores(crf, emissions[i], n, allowed, start_allowed).items() if v is not None
        }
        z = sum(math.exp(s) for s in table.values())
        for t in range(n):
            for k in range(3):
                expected = sum(math.exp(s) for seq, s in table.items() if seq[t] == k) / z
                assert post[i, t, k].item() == pytest.approx(expected, abs=1e-5)
        assert post[i, n:].abs().sum().item() == 0


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_viterbi_with_allowed_transitions_picks_the_best_permitted_sequence(seed, per_step):
    crf = _random_crf(4, 20 + seed)
    lengths = [4, 3, 1]
    emissions, mask = _batch(4, lengths, seed)
    gen = torch.Generator().manual_seed(seed)
    shape = (3, 4, 4) if per_step else (4, 4)
    allowed = torch.rand(shape, generator=gen) < 0.5
    allowed[..., 0, 1] = allowed[..., 1, 2] = allowed[..., 2, 3] = True  # keep one permitted chain
    start_allowed = torch.tensor([True, True, False, False])
    tags, scores = crf.viterbi(emissions, mask, allowed, start_allowed)
    for i, n in enumerate(lengths):
        table = {s: v for s, v in _brute_scores(crf, emissions[i], n, allowed, start_allowed).items() if v is not None}
        best_seq = max(table, key=table.get)
        assert tuple(tags[i, :n].tolist()) == best_seq
        assert scores[i].item() == pytest.approx(table[best_seq], abs=1e-4)


def test_nll_with_allowed_normalises_over_permitted_sequences_only():
    crf = _random_crf(3, 3)
    emissions, mask = _batch(3, [3], 3)
    allowed = torch.tensor([[False, True, True], [True, False, True], [True, True, False]])  # no repeats
    tags = torch.tensor([[0, 1, 0]])
    nll = crf.neg_log_likelihood(emissions, tags, mask, allowed=allowed)
    table = {s: v for s, v in _brute_scores(crf, emissions[0], 3, allowed).items() if v is not None}
    log_z = math.log(sum(math.exp(v) for v in table.values()))
    assert nll.item() == pytest.approx(log_z - table[(0, 1, 0)], abs=1e-4)


def test_nll_training_makes_viterbi_recover_the_gold_sequences():
    torch.manual_seed(0)
    crf = LinearChainCRF(4)
    emissions = torch.zeros(2, 5, 4)  # no evidence: only the transitions can encode the pattern
    gold = torch.tensor([[0, 1, 2, 3, 0], [0, 1, 2, 3, 0]])
    opt = torch.optim.Adam(crf.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        crf.neg_log_likelihood(emissions, gold).backward()
        opt.step()
    tags, _ = crf.viterbi(emissions)
    assert tags.tolist() == gold.tolist()


def test_gradients_stay_finite_when_some_tags_are_unreachable():
    crf = _random_crf(3, 1)
    emissions, mask = _batch(3, [3, 2], 1)
    allowed = torch.zeros(3, 3, dtype=torch.bool)
    allowed[0, 1] = allowed[1, 0] = True  # tag 2 can never be reached
    tags = torch.tensor([[0, 1, 0], [0, 1, 0]])
    crf.neg_log_likelihood(emissions, tags, mask, allowed=allowed).backward()
    for p in crf.parameters():
        assert torch.isfinite(p.grad).all()
    assert torch.isfinite(crf.marginals(emissions, mask, allowed=allowed)).all()


def test_rejects_a_mask_that_starts_masked():
    crf = LinearChainCRF(2)
    emissions = torch.zeros(1, 2, 2)
    with pytest.raises(ValueError):
        crf.viterbi(emissions, torch.tensor([[False, True]]))
