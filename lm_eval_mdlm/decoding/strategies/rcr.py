"""``rcr``: running confidence remasking (MDPO, He et al. 2025, Sec. 4)."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, select_topk
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Strategy


class RunningConfidence(Sampler):
    """Every step fills all masks, each filled position keeps the confidence it was filled with, and only the best
    positions up to the schedule's cumulative quota stay committed; the rest (old commitments included) are
    re-masked."""

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.running = torch.zeros(batch, length, dtype=torch.float64, device=device)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        fresh = self.score(view)
        held = self.running[ctx.rows].gather(1, view.positions)
        combined = torch.where(ctx.committed, held, fresh)
        inside = ctx.candidates | ctx.committed
        keep = select_topk(combined, inside, ctx.schedule.cumulative_quota(ctx.block, ctx.step_in_block, ctx.phase))
        write = ctx.candidates & keep
        r, j = write.nonzero(as_tuple=True)
        self.running[ctx.rows[r], view.positions[r, j]] = fresh[r, j]
        return Decision(write, ctx.committed & ~keep)


STRATEGY = Strategy("rcr", "fills every mask, keeps the most confident up to the quota (MDPO)", RunningConfidence,
                    quota=True, order=70)
