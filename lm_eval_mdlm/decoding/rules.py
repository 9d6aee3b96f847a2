"""Score rules and select rules: the small pieces one denoising step is composed of.

A step looks at the model's predictions for the masked positions of each row's current block
(the *window*). A **score rule** says how ready each position is; a **select rule** turns scores
into the set of positions committed this step. Both are pure functions over (rows, window) tensors,
in the spirit of transformers' ``LogitsProcessor``. A new score is a function here and a name in
:data:`SCORE_RULES` (``score=`` then accepts it); select rules are plain functions that a strategy's sampler
calls (:mod:`lm_eval_mdlm.decoding.strategies`, one module per strategy, composes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch

from lm_eval_mdlm.decoding import noise


@dataclass
class StepView:
    """What the model said this step about each row's window (computed lazily, at most once).

    Only the ``scored`` slots are computed: samplers read tokens and scores of candidates (and revising ones of
    committed slots), and a float64 softmax over the vocabulary at every window slot would be most of the loop's
    own time. Each slot's values are computed from its own logits alone, so they equal a whole-window computation
    exactly (the token-identity tests hold the engine to LLaDA's float64 reference).
    """

    logits: torch.Tensor
    """(A, W, V) logits at the window positions."""
    positions: torch.Tensor
    """(A, W) answer positions of the window (absolute within the answer)."""
    keys: torch.Tensor
    """(A,) per-request noise keys."""
    step: torch.Tensor
    """(A,) the row's forward count, 1-based, for noise."""
    temperature: float
    scored: torch.Tensor | None = None
    """(A, W) bool: the slots whose tokens and scores a sampler may read; None = every slot. Elsewhere
    :attr:`tokens` keeps ``current`` (no change is proposed) and scores are -inf (never ready)."""
    current: torch.Tensor | None = None
    """(A, W) tokens now in the window; needed with ``scored``."""

    def __post_init__(self) -> None:
        if self.scored is not None and self.current is None:
            raise ValueError("StepView(scored=...) needs current=: unscored slots keep their current token.")

    @cached_property
    def index(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(rows, slots) of the scored slots, row-major; None when every slot is scored."""
        return None if self.scored is None else self.scored.nonzero(as_tuple=True)

    def spread(self, values: torch.Tensor, fill: float = float("-inf")) -> torch.Tensor:
        """(N,) values of the scored slots as an (A, W) tensor, ``fill`` elsewhere."""
        if self.index is None:
            return values.reshape(self.logits.shape[:2])
        return values.new_full(self.logits.shape[:2], fill).index_put_(self.index, values)

    @cached_property
    def scored_logits(self) -> torch.Tensor:
        """(N, V) logits of the scored slots."""
        if self.index is None:
            return self.logits.reshape(-1, self.logits.shape[-1])
        return self.logits[self.index]

    @cached_property
    def probs(self) -> torch.Tensor:
        """(N, V) softmax(logits) of the scored slots in float64, as LLaDA's reference computes p for remasking."""
        return torch.softmax(self.scored_logits.to(torch.float64), dim=-1)

    @cached_property
    def scored_tokens(self) -> torch.Tensor:
        """(N,) proposed tokens of the scored slots: argmax, or Gumbel-max at ``temperature`` > 0.

        argmax(l + T·g) with g ~ Gumbel equals LLaDA's argmax(exp(l) / (-log u)^T) and samples
        softmax(l / T); it is computed in float64 as the reference does (low-precision Gumbel noise
        biases sampling, LLaDA's ``add_gumbel_noise`` docstring). The noise of a slot depends only on its
        row's key, step and answer position, so computing it for the scored slots alone changes nothing.
        """
        logits = self.scored_logits
        if self.temperature == 0.0:
            return logits.argmax(dim=-1)
        keys, step, positions = self.keys, self.step, self.positions
        if self.index is not None:
            rows, slots = self.index
            keys, step, positions = keys[rows], step[rows], positions[rows, slots][:, None]
        gumbel = noise.gumbel(keys, step, positions, logits.shape[-1]).reshape(logits.shape)
        return (logits.to(torch.float64) + self.temperature * gumbel).argmax(dim=-1)

    @cached_property
    def tokens(self) -> torch.Tensor:
        """(A, W) proposed tokens (:attr:`scored_tokens`); unscored slots keep their current token."""
        if self.index is None:
            return self.scored_tokens.reshape(self.logits.shape[:2])
        return self.current.index_put(self.index, self.scored_tokens)  # type: ignore[union-attr]


ScoreRule = Callable[[StepView], torch.Tensor]


def score_confidence(view: StepView) -> torch.Tensor:
    """p(x0) of the proposed token: LLaDA's low-confidence remasking."""
    return view.spread(view.probs.gather(-1, view.scored_tokens[:, None])[:, 0])


def score_margin(view: StepView) -> torch.Tensor:
    """Top-1 minus top-2 probability (Dream's ``topk_margin``; Kim et al. 2025)."""
    top2 = view.probs.topk(2, dim=-1).values
    return view.spread(top2[:, 0] - top2[:, 1])


def score_entropy(view: StepView) -> torch.Tensor:
    """Negative entropy of the predictive distribution (Dream's ``entropy``): low entropy first."""
    p = view.probs
    return view.spread((p * torch.log(p.clamp_min(1e-300))).sum(-1))


def score_random(view: StepView) -> torch.Tensor:
    """Seeded uniform scores: random unmasking order (LLaDA's ``remasking='random'``)."""
    return noise.uniform(view.keys, view.step, view.positions, 1)[..., 0]


def score_left_to_right(view: StepView) -> torch.Tensor:
    """Leftmost first: autoregressive order inside the window."""
    return -view.positions.to(torch.float64)


SCORE_RULES: dict[str, ScoreRule] = {
    "confidence": score_confidence,
    "margin": score_margin,
    "entropy": score_entropy,
    "random": score_random,
    "left_to_right": score_left_to_right,
}


def _ranks(scores: torch.Tensor) -> torch.Tensor:
    """Rank of every entry in its row, 0 = best; ties go to the left (stable sort)."""
    order = torch.sort(scores, dim=-1, descending=True, stable=True).indices
    ranks = torch.empty_like(order)
    ranks.scatter_(-1, order, torch.arange(scores.shape[-1], device=scores.device).expand_as(order))
    return ranks


def select_topk(scores: torch.Tensor, candidates: torch.Tensor, quota: torch.Tensor) -> torch.Tensor:
    """Commit the ``quota`` best-scoring candidates of each row (LLaDA's top-k transfer)."""
    masked = scores.masked_fill(~candidates, float("-inf"))
    return candidates & (_ranks(masked) < quota.unsqueeze(-1))


def select_threshold(scores: torch.Tensor, candidates: torch.Tensor, threshold: float) -> torch.Tensor:
    """Commit every candidate with score >= threshold; a row with none commits its best one.

    Fast-dLLM's parallel decoding rule (Wu et al. 2025, "Fast-dLLM", Sec. 3.3).
    """
    above = candidates & (scores >= threshold)
    fallback = select_topk(scores, candidates, torch.ones_like(scores[:, 0], dtype=torch.long))
    return torch.where(above.any(-1, keepdim=True), above, fallback)


def select_factor(scores: torch.Tensor, candidates: torch.Tensor, factor: float,
                  rule: str = "formula") -> torch.Tensor:
    """Fast-dLLM's factor rule over descending scores c_(1) >= c_(2) >= ... of each row's candidates.

    ``formula`` (Wu et al. 2025, Fast-dLLM, Thm. 2): commit the n best for the largest n with
    (n + 1)(1 − c_(n)) < factor, n >= 1; the left side grows with n, so the admissible n form a prefix.
    ``fastdllm`` (Fast-dLLM's ``get_transfer_index_dynamic``): rank n >= 2 passes when c_(n) >=
    1 - factor / (n + 1) (float64, the bound computed as the code does), rank 1 always passes; the n
    before the first failing rank are committed, except that when only the last candidate fails, all
    are (the code's ``top_i == len(threshs) - 1`` branch), so e.g. two candidates always both commit.
    """
    masked = scores.masked_fill(~candidates, float("-inf"))
    ordered = torch.sort(masked, dim=-1, descending=True, stable=True).values
    n = torch.arange(1, ordered.shape[-1] + 1, device=ordered.device, dtype=torch.float64)
    if rule == "formula":
        quota = ((n + 1) * (1 - ordered) < factor).long().cumprod(-1).sum(-1).clamp_min(1)
        return select_topk(scores, candidates, quota)
    if rule != "fastdllm":
        raise ValueError(f"factor rule {rule!r} is unknown; valid: formula, fastdllm.")
    # tensor / tensor is IEEE division; torch evaluates scalar / tensor as scalar * (1 / tensor), which
    # is one ulp off Python's factor / (n + 1) for some n (e.g. 3 / 5) and would flip exact ties
    bound = 1 - torch.full_like(n, factor) / (n + 1)
    passes = ordered.to(torch.float64) >= bound
    passes[..., 0] = True
    prefix = passes.long().cumprod(-1).sum(-1)
    count = candidates.sum(-1)
    quota = torch.where(prefix >= count - 1, count, prefix)
    return select_topk(scores, candidates, quota)


def select_entropy_bound(entropy: torch.Tensor, candidates: torch.Tensor, bound: float) -> torch.Tensor:
    """Commit the largest low-entropy prefix whose sum(H) - max(H) <= bound, at least one.

    EB-sampler (Ben-Hamu et al. 2025, "Accelerated Sampling from Masked Diffusion Models via Entropy
    Bounded Unmasking", Alg. 1): with entropies sorted ascending, sum_{i<=n} H_(i) - H_(n) =
    sum_{i<n} H_(i) is non-decreasing in n, so the admissible n form a prefix.
    """
    masked = entropy.masked_fill(~candidates, float("inf"))
    ordered = torch.sort(masked, dim=-1, stable=True).values
    before = torch.cumsum(ordered, dim=-1) - ordered  # sum of the strictly smaller-ranked entropies
    quota = (before <= bound).long().cumprod(-1).sum(-1).clamp_min(1)
    return select_topk(-entropy, candidates, quota)


def dilated_groups(width: int, device: torch.device) -> torch.Tensor:
    """Coarse-to-fine group of each block offset: 0 for offset 0, else L - (trailing zeros of offset).

    Dilated Unmasking Schedule (Luxembourg et al. 2025): offsets that are odd multiples of 2^j are
    committed together, coarsest spacing first (block of 8: {0}, {4}, {2, 6}, {1, 3, 5, 7}); members of
    a group are 2^(j+1) >= 2 apart, so no two adjacent tokens share a step, and a block takes
    ceil(log2 B) + 1 steps.
    """
    offsets = torch.arange(width, device=device)
    levels = max(1, (width - 1).bit_length())
    trailing = torch.zeros_like(offsets)
    rest = offsets.clone()
    for _ in range(levels):  # count trailing zero bits, vectorised over offsets (log2 B iterations)
        even = (rest % 2 == 0) & (rest > 0)
        trailing += even.long()
        rest = torch.where(even, rest // 2, rest)
    return torch.where(offsets == 0, 0, levels - trailing)
