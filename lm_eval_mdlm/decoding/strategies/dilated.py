"""``dilated``: the Dilated Unmasking Schedule (DUS, Luxembourg et al. 2025), a fixed coarse-to-fine order."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, dilated_groups
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Strategy


class Dilated(Sampler):
    """Each step commits the coarsest group (:func:`dilated_groups`) still masked."""

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.groups = dilated_groups(self.width, device)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        groups = self.groups.expand_as(ctx.candidates)
        pending = torch.where(ctx.candidates, groups, groups.max() + 1)
        return Decision(ctx.candidates & (groups == pending.min(-1, keepdim=True).values))


STRATEGY = Strategy("dilated", "coarse-to-fine groups, no two adjacent tokens in one step (DUS)", Dilated,
                    scored=False, order=40)
