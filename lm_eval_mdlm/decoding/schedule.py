"""Blocks and per-step quotas: how much of the answer may be committed, where and when."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import QUOTA_STRATEGIES, ConfigError, DecodeConfig


@dataclass(frozen=True)
class Schedule:
    """Semi-autoregressive layout of one answer of ``length`` tokens.

    Blocks have ``block_length`` tokens; when it does not divide the answer, the last block is
    shorter (our rule; LLaDA's reference asserts divisibility instead). ``steps_per_block`` holds
    the top-k step budget of each block (``None`` for strategies that pick their own quota).
    """

    length: int
    block_length: int
    steps_per_block: tuple[int, ...] | None
    k: int | None

    @property
    def num_blocks(self) -> int:
        return -(-self.length // self.block_length)

    def block_sizes(self, device: torch.device) -> torch.Tensor:
        """(num_blocks,) tokens in each block."""
        starts = torch.arange(self.num_blocks, device=device) * self.block_length
        return (self.length - starts).clamp(max=self.block_length)

    def quota(self, block: torch.Tensor, step_in_block: torch.Tensor) -> torch.Tensor:
        """Tokens each row commits at this step of its current block (top-k strategies).

        With ``steps``: LLaDA's ``get_num_transfer_tokens``: for n tokens in s steps, base = n // s
        and the first n % s steps take one more. With ``k``: k per step (the block's last step takes
        what is left, since a quota is capped by the masks left).
        """
        sizes = self.block_sizes(block.device)[block]
        if self.k is not None:
            return torch.full_like(block, self.k)
        if self.steps_per_block is None:
            return torch.ones_like(block)
        steps = torch.tensor(self.steps_per_block, device=block.device)[block]
        return sizes // steps + (step_in_block < sizes % steps).long()


    def block_steps(self, block: torch.Tensor) -> torch.Tensor:
        """Steps each row's current block takes under the top-k quota (the ReMDM/RCR step budget)."""
        sizes = self.block_sizes(block.device)[block]
        if self.k is not None:
            return -(-sizes // self.k)
        if self.steps_per_block is None:
            return sizes
        return torch.tensor(self.steps_per_block, device=block.device)[block]

    def cumulative_quota(self, block: torch.Tensor, step_in_block: torch.Tensor) -> torch.Tensor:
        """Tokens decoded in the current block once step ``step_in_block`` (0-based) is done."""
        sizes = self.block_sizes(block.device)[block]
        done = step_in_block + 1
        if self.k is not None:
            return (self.k * done).clamp(max=sizes)
        if self.steps_per_block is None:
            return done.clamp(max=sizes)
        steps = torch.tensor(self.steps_per_block, device=block.device)[block]
        return (sizes // steps) * done + torch.minimum(done, sizes % steps)


def make_schedule(cfg: DecodeConfig, length: int) -> Schedule:
    """Lay out an answer of ``length`` tokens for ``cfg``; errors name the knob to change."""
    block_length = min(cfg.block_length or length, length)
    num_blocks = -(-length // block_length)
    if cfg.cache != "none" and num_blocks == 1:
        # One block means one refresh: every later step would reuse prompt keys/values computed while
        # the whole answer was still masked. We refuse rather than silently decode that way.
        raise ConfigError(
            f"cache={cfg.cache} with block_length={cfg.block_length} puts this request's whole answer "
            f"({length} tokens) in one block, so the cache would never be refreshed: use a block_length "
            f"below {length} (e.g. {max(1, length // 4)}), or cache=none.")
    steps_per_block = None
    if cfg.strategy in QUOTA_STRATEGIES and cfg.steps is not None:
        if cfg.steps < num_blocks:
            raise ConfigError(
                f"steps={cfg.steps} is fewer than the {num_blocks} blocks of this request "
                f"(answer length {length}, block_length={block_length}); every block needs at least "
                f"one step: use steps >= {num_blocks} or a larger block_length.")
        base, extra = divmod(cfg.steps, num_blocks)
        sizes = [min(block_length, length - b * block_length) for b in range(num_blocks)]
        # A block cannot use more steps than it has tokens: LLaDA's schedule would spend forwards
        # that commit nothing; we skip them (same output, fewer forwards).
        steps_per_block = tuple(min(base + (b < extra), sizes[b]) for b in range(num_blocks))
    return Schedule(length=length, block_length=block_length, steps_per_block=steps_per_block,
                    k=cfg.k if cfg.strategy in QUOTA_STRATEGIES else None)
