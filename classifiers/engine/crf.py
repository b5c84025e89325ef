"""A linear-chain CRF (pytorch-crf style), vectorised over the batch.

Shapes: emissions `[batch, seq_len, num_tags]`, tags `[batch, seq_len]` (long), mask `[batch, seq_len]`
(bool, a prefix mask: position 0 is always on). Only the sequence positions are looped over.

Hard constraints: `allowed` is a bool matrix of permitted transitions, either `[num_tags, num_tags]`
(the same at every step) or `[seq_len - 1, num_tags, num_tags]` (step t goes from position t to t + 1);
`start_allowed` is a bool vector of permitted first tags. Viterbi treats forbidden moves as -inf, so a
decoded sequence never uses one when any permitted sequence exists. The likelihood and the marginals use a
large finite penalty instead (`IMPOSSIBLE`), so that gradients stay finite for unreachable tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

#: Score given to a forbidden transition in the likelihood and the marginals (exp() of it is 0 in float32).
IMPOSSIBLE = -1.0e4


class LinearChainCRF(nn.Module):
    """Start, end and transition scores over `num_tags` tags; `transitions[a, b]` scores a -> b."""

    def __init__(self, num_tags: int, init_range: float = 0.1) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError("num_tags must be positive")
        self.num_tags = num_tags
        self.start = nn.Parameter(torch.empty(num_tags).uniform_(-init_range, init_range))
        self.end = nn.Parameter(torch.empty(num_tags).uniform_(-init_range, init_range))
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags).uniform_(-init_range, init_range))

    # ----- helpers -----
    def _prepare(self, emissions: Tensor, mask: Tensor | None) -> Tensor:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(f"emissions must be [batch, seq_len, {self.num_tags}], got {tuple(emissions.shape)}")
        if mask is None:
            return torch.ones(emissions.shape[:2], dtype=torch.bool, device=emissions.device)
        mask = mask.to(torch.bool)
        if mask.shape != emissions.shape[:2]:
            raise ValueError("mask must be [batch, seq_len]")
        if emissions.size(1) and not bool(mask[:, 0].all()):
            raise ValueError("the first position of every sequence must be unmasked")
        return mask

    def _scores(self, allowed: Tensor | None, start_allowed: Tensor | None, forbidden: float) -> tuple[Tensor, Tensor]:
        """(start scores [K], transition scores [K, K] or [T-1, K, K]) with forbidden moves replaced."""
        start, trans = self.start, self.transitions
        if start_allowed is not None:
            start = start.masked_fill(~start_allowed.to(torch.bool), forbidden)
        if allowed is not None:
            allowed = allowed.to(torch.bool)
            if allowed.shape[-2:] != (self.num_tags, self.num_tags) or allowed.dim() not in (2, 3):
                raise ValueError("allowed must be [K, K] or [seq_len - 1, K, K]")
            trans = trans.masked_fill(~allowed, forbidden)
        return start, trans

    @staticmethod
    def _step(trans: Tensor, t: int) -> Tensor:
        """Transition scores into position t (from t - 1)."""
        return trans[t - 1] if trans.dim() == 3 else trans

    # ----- likelihood -----
    def sequence_score(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
    ) -> Tensor:
        """Unnormalised score of the given tag sequences: `[batch]`."""
        mask = self._prepare(emissions, mask)
        start, trans = self._scores(allowed, start_allowed, IMPOSSIBLE)
        batch, seq_len, _ = emissions.shape
        rows = torch.arange(batch, device=emissions.device)
        tags = tags.long()
        score = start[tags[:, 0]] + emissions[rows, 0, tags[:, 0]]
        for t in range(1, seq_len):
            step = self._step(trans, t)[tags[:, t - 1], tags[:, t]] + emissions[rows, t, tags[:, t]]
            score = score + step * mask[:, t]
        last = mask.long().sum(1) - 1
        return score + self.end[tags[rows, last]]

    def log_partition(
        self,
        emissions: Tensor,
        mask: Tensor | None = None,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
    ) -> Tensor:
        """log Z by the forward algorithm: `[batch]`."""
        mask = self._prepare(emissions, mask)
        alpha = self._forward(emissions, mask, *self._scores(allowed, start_allowed, IMPOSSIBLE))
        return torch.logsumexp(alpha[-1] + self.end, dim=1)

    def _forward(self, emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor) -> list[Tensor]:
        """Forward variables per position (emission included), carried unchanged over masked positions."""
        alpha = start + emissions[:, 0]
        out = [alpha]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + self._step(trans, t), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
            out.append(alpha)
        return out

    def neg_log_likelihood(
        self,
        emissions: Tensor,
        tags: Tensor,
        mask: Tensor | None = None,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
        reduction: str = "sum",
    ) -> Tensor:
        """-(score(tags) - log Z); reduction "sum" (the reference), "mean" or "none" (`[batch]`)."""
        nll = self.log_partition(emissions, mask, allowed, start_allowed) - self.sequence_score(
            emissions, tags, mask, allowed, start_allowed
        )
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        if reduction == "none":
            return nll
        raise ValueError(f"unknown reduction {reduction!r}")

    # ----- inference -----
    def marginals(
        self,
        emissions: Tensor,
        mask: Tensor | None = None,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
    ) -> Tensor:
        """Posterior tag probabilities per position by forward-backward: `[batch, seq_len, num_tags]`.

        Rows at masked positions are zero."""
        mask = self._prepare(emissions, mask)
        start, trans = self._scores(allowed, start_allowed, IMPOSSIBLE)
        alphas = self._forward(emissions, mask, start, trans)
        seq_len = emissions.size(1)
        end = self.end.expand(emissions.size(0), -1)
        beta = end
        betas = [beta]
        for t in range(seq_len - 2, -1, -1):
            step = self._step(trans, t + 1)
            nxt = torch.logsumexp(step.unsqueeze(0) + (emissions[:, t + 1] + beta).unsqueeze(1), dim=2)
            # Position t is the last one of a sequence when t + 1 is masked: only the end score follows it.
            beta = torch.where(mask[:, t + 1 : t + 2], nxt, end)
            betas.append(beta)
        betas.reverse()
        post = torch.softmax(torch.stack(alphas, 1) + torch.stack(betas, 1), dim=2)
        return post * mask.unsqueeze(2)

    def viterbi(
        self,
        emissions: Tensor,
        mask: Tensor | None = None,
        allowed: Tensor | None = None,
        start_allowed: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Best tag sequences and their scores: (`[batch, seq_len]` long, -1 at masked positions; `[batch]`)."""
        mask = self._prepare(emissions, mask)
        start, trans = self._scores(allowed, start_allowed, float("-inf"))
        batch, seq_len, _ = emissions.shape
        score = start + emissions[:, 0]
        pointers = []
        for t in range(1, seq_len):
            cand = score.unsqueeze(2) + self._step(trans, t)  # [batch, from, to]
            best, arg = cand.max(dim=1)
            pointers.append(arg)
            score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
        final = score + self.end
        best_score, cur = final.max(dim=1)
        lengths = mask.long().sum(1)
        tags = torch.full((batch, seq_len), -1, dtype=torch.long, device=emissions.device)
        for t in range(seq_len - 1, 0, -1):
            active = t < lengths
            tags[:, t] = torch.where(active, cur, tags[:, t])
            prev = pointers[t - 1].gather(1, cur.unsqueeze(1)).squeeze(1)
            cur = torch.where(active, prev, cur)
        if seq_len:
            tags[:, 0] = cur
        return tags, best_score
