"""Blocks and per-step quotas: how much of the answer may be committed, where and when."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import QUOTA_STRATEGIES, ConfigError, DecodeConfig


@dataclass(frozen=True)
class Schedule:
    """Semi-autoregressive layout of one answer of ``length`` tokens.

    Blocks have ``block_length`` tokens; when it does not divide the answer, the last block is
    shorter (our rule; LLaDA's reference asserts divisibility instead). ``steps`` is the top-k step
    budget of the whole answer, split over its blocks (``None`` for one token per step, ``k`` per
    step, or strategies that pick their own quota).

    ``aligned``: blocks are aligned to absolute positions, as block-diffusion models (SDAR, LLaDA 2.x)
    need: a row whose prompt has P tokens starts its answer ``phase = P % block_length`` positions into
    a block, so its first block is the remainder of the block the prompt ends in. Every method takes
    the rows' ``phase`` (all zeros when not aligned): block ``b`` of a row covers answer positions
    ``[b * block_length - phase, (b + 1) * block_length - phase)`` within ``[0, length)``.
    """

    length: int
    block_length: int
    steps: int | None
    k: int | None
    aligned: bool = False

    @property
    def width(self) -> int:
        """Window size: the most answer positions one block can hold."""
        return min(self.block_length, self.length)

    @property
    def steps_per_block(self) -> tuple[int, ...] | None:
        """The step budget of each block of an unshifted row (phase 0)."""
        if self.steps is None:
            return None
        blocks = torch.arange(-(-self.length // self.block_length))
        return tuple(self._block_steps(blocks, torch.zeros_like(blocks)).tolist())

    def span(self, block: torch.Tensor, phase: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(start, end) answer positions of each row's block ``block``."""
        first = block * self.block_length - phase
        return first.clamp(min=0), (first + self.block_length).clamp(max=self.length)

    def block_sizes(self, block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Tokens in each row's block ``block``."""
        start, end = self.span(block, phase)
        return end - start

    def _block_steps(self, block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """``steps`` split over a row's blocks: base = steps // n and the first steps % n blocks take one
        more; a block cannot use more steps than it has tokens (LLaDA's schedule would spend forwards
        that commit nothing; we skip them: same output, fewer forwards)."""
        blocks = -(-(self.length + phase) // self.block_length)
        budget = self.steps // blocks + (block < self.steps % blocks).long()
        return torch.minimum(budget, self.block_sizes(block, phase))

    def quota(self, block: torch.Tensor, step_in_block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Tokens each row commits at this step of its current block (top-k strategies).

        With ``steps``: LLaDA's ``get_num_transfer_tokens``: for n tokens in s steps, base = n // s
        and the first n % s steps take one more. With ``k``: k per step (the block's last step takes
        what is left, since a quota is capped by the masks left).
        """
        if self.k is not None:
            return torch.full_like(block, self.k)
        if self.steps is None:
            return torch.ones_like(block)
        sizes, steps = self.block_sizes(block, phase), self._block_steps(block, phase)
        return sizes // steps + (step_in_block < sizes % steps).long()

    def block_steps(self, block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """Steps each row's current block takes under the top-k quota (the ReMDM/RCR step budget)."""
        sizes = self.block_sizes(block, phase)
        if self.k is not None:
            return -(-sizes // self.k)
        if self.steps is None:
            return sizes
        return self._block_steps(block, phase)

    def cumulative_quota(self, block: torch.Tensor, step_in_block: torch.Tensor,
                         phase: torch.Tensor) -> torch.Tensor:
        """Tokens decoded in the current block once step ``step_in_block`` (0-based) is done."""
        sizes = self.block_sizes(block, phase)
        done = step_in_block + 1
        if self.k is not None:
            return (self.k * done).clamp(max=sizes)
        if self.steps is None:
            return done.clamp(max=sizes)
        steps = self._block_steps(block, phase)
        return (sizes // steps) * done + torch.minimum(done, sizes % steps)


def make_schedule(cfg: DecodeConfig, length: int, aligned: bool = False) -> Schedule:
    """Lay out an answer of ``length`` tokens for ``cfg``; errors name the knob to change.

    ``aligned``: blocks follow absolute positions (block-causal models; see :class:`Schedule`). Their
    block length is the model's, so it is required and not shortened to the answer; the exact block
    cache of such models needs no refresh, so one block is fine with ``cache``.
    """
    if aligned and cfg.block_length is None:
        raise ConfigError("a block-diffusion model decodes in the blocks its attention uses, so block_length is "
                          "needed: pass the model's block size (e.g. block_length=4 for SDAR, 32 for LLaDA 2.x); "
                          "--model mdlm sets it from the checkpoint when you leave it out.")
    block_length = cfg.block_length if aligned else min(cfg.block_length or length, length)
    num_blocks = -(-length // block_length)
    if cfg.cache != "none" and num_blocks == 1 and not aligned:
        # One block means one refresh: every later step would reuse prompt keys/values computed while
        # the whole answer was still masked. We refuse rather than silently decode that way.
        raise ConfigError(
            f"cache={cfg.cache} with block_length={cfg.block_length} puts this request's whole answer "
            f"({length} tokens) in one block, so the cache would never be refreshed: use a block_length "
            f"below {length} (e.g. {max(1, length // 4)}), or cache=none.")
    # An aligned row whose prompt ends inside a block has one more (partial) block.
    most_blocks = -(-(length + block_length - 1) // block_length) if aligned else num_blocks
    steps = cfg.steps if cfg.strategy in QUOTA_STRATEGIES else None
    if steps is not None and steps < most_blocks:
        raise ConfigError(
            f"steps={steps} is fewer than the {most_blocks} blocks of this request "
            f"(answer length {length}, block_length={block_length}"
            f"{', blocks aligned to the prompt' if aligned else ''}); every block needs at least "
            f"one step: use steps >= {most_blocks} or a larger block_length.")
    return Schedule(length=length, block_length=block_length, steps=steps,
                    k=cfg.k if cfg.strategy in QUOTA_STRATEGIES else None, aligned=aligned)
