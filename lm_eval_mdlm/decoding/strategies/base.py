"""What every sampler shares: the step's context in, the step's decision out, and the base class.

The loop (:mod:`lm_eval_mdlm.decoding.loop`) hands a sampler the model's view of the window (the
current block) and a :class:`StepContext`; the sampler returns a :class:`Decision`. Commit-once
strategies only *write* masked positions; revising ones may also *re-mask* committed positions
(ReMDM, RCR), *overwrite* them (editing) or *hold* a finished block for more editing steps. Samplers
keep per-row state (indexed by batch row) where a rule needs memory across steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from lm_eval_mdlm.decoding.rules import SCORE_RULES, StepView

Config = Any
"""The run's ``lm_eval_mdlm.config.DecodeConfig``. Not imported: config builds that class from these modules."""

WindowForward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(canvas (B, L), attention (B, L) bool, rows (A,), window columns (A, W), refresh (A,) bool) -> logits (A, W, V),
the mask token already excluded (:data:`lm_eval_mdlm.decoding.loop.WindowForward`)."""


class Budget(Protocol):
    """The per-block step budget samplers read (:class:`~lm_eval_mdlm.decoding.schedule.Schedule`; a protocol
    because schedule.py asks the registry which strategies take ``k=`` / ``steps=``)."""

    def quota(self, block: torch.Tensor, step_in_block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor: ...

    def cumulative_quota(self, block: torch.Tensor, step_in_block: torch.Tensor,
                         phase: torch.Tensor) -> torch.Tensor: ...

    def block_steps(self, block: torch.Tensor, phase: torch.Tensor) -> torch.Tensor: ...


@dataclass
class StepContext:
    """Where each active row stands; all tensors are over the A active rows (and W window slots)."""

    rows: torch.Tensor
    """(A,) batch indices of the active rows (index per-row sampler state with these)."""
    block: torch.Tensor
    step_in_block: torch.Tensor
    """(A,) steps already taken in the current block (0 at its first step)."""
    new_block: torch.Tensor
    """(A,) whether this is the row's first step in this block (per-block state resets)."""
    current: torch.Tensor
    """(A, W) tokens now in the window (the mask id where masked)."""
    candidates: torch.Tensor
    """(A, W) masked positions inside the answer."""
    committed: torch.Tensor
    """(A, W) committed positions inside the answer."""
    schedule: Budget
    phase: torch.Tensor
    """(A,) answer positions before the first block boundary (0 unless blocks are aligned to the
    prompt, :class:`~lm_eval_mdlm.decoding.schedule.Schedule`); schedule calls take it."""
    eos: torch.Tensor | None = None
    """(E,) ids that end an answer (a row settled up to its first EOS leaves the batch)."""

    def quota(self) -> torch.Tensor:
        """(A,) this step's top-k quota from ``k=`` / ``steps=``."""
        return self.schedule.quota(self.block, self.step_in_block, self.phase)


@dataclass
class Decision:
    """What a step does: write ``view.tokens`` at ``write``, re-mask ``remask``, keep the block (``hold``)."""

    write: torch.Tensor
    remask: torch.Tensor | None = None
    hold: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    """(A, W) tokens to write instead of ``view.tokens`` (speculative drafts accepted this step)."""


class Sampler:
    """One strategy's step rule; subclasses implement :meth:`__call__` (and keep per-row state if they need it)."""

    fanout = 1
    """Canvases one row may send through a single forward (the loop sizes its forward for ``batch * fanout``)."""
    reads_committed = False
    """Whether the sampler reads tokens or scores of committed slots (the loop scores only candidates otherwise)."""

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        self.cfg = cfg
        self.score = SCORE_RULES[cfg.score]
        self.length = length
        self.width = min(cfg.block_length or length, length)  # window size, as the schedule's blocks

    def forward(self, step: WindowForward, x: torch.Tensor, attention: torch.Tensor, ctx: StepContext,
                columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The step's one model call: (logits (A, W, V) at the window, rows run (A,)). One row per active row;
        speculative samplers run several canvases of a row in the same call."""
        return step(x, attention, ctx.rows, columns, ctx.new_block), torch.ones_like(ctx.rows)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        """What this step commits, re-masks or overwrites in each active row's window."""
        raise NotImplementedError(f"{type(self).__name__} must implement __call__ (see Sampler's docstring)")
