"""``edit``: generate-then-edit (LLaDA 2.1's token-to-token editing, arXiv 2602.08676 model card)."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, score_confidence, select_threshold
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

KNOBS = (
    Knob("edit_threshold", "float", 0.9, "overwrite a committed token whose new prediction differs with this "
         "confidence (0: every one, LLaDA 2.1's S mode)", low=0.0, high=1.0,
         hint="0 edits every committed token the model now predicts differently"),
    Knob("max_edit_steps", "int", 4, "editing-only steps after a block is filled (stop when nothing changes)",
         low=0),
)


class Editing(Sampler):
    """Masks are filled by the threshold rule; in the same step every committed token whose new prediction differs
    with confidence >= ``edit_threshold`` is overwritten. After a block is filled the row keeps it for up to
    ``max_edit_steps`` editing-only steps, stopping early once a step changes nothing.
    """

    reads_committed = True

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.edits_left = torch.zeros(batch, dtype=torch.long, device=device)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        rows = ctx.rows
        self.edits_left[rows] = torch.where(ctx.new_block, self.cfg.max_edit_steps, self.edits_left[rows])
        confidence = score_confidence(view)
        fill = select_threshold(self.score(view), ctx.candidates, self.cfg.threshold)
        edit = ctx.committed & (view.tokens != ctx.current) & (confidence >= self.cfg.edit_threshold)
        editing_only = ~ctx.candidates.any(-1)
        self.edits_left[rows] -= editing_only.long()
        filled = ~(ctx.candidates & ~fill).any(-1)
        changed = edit.any(-1)
        hold = filled & (self.edits_left[rows] > 0) & (changed | ~editing_only)
        return Decision(fill | edit, hold=hold)


STRATEGY = Strategy("edit", "fills by `threshold`, then overwrites confident changes (LLaDA 2.1)", Editing,
                    knobs=KNOBS, reads=("threshold",), probability=True, primary="threshold",
                    extra_forwards=lambda cfg: cfg.max_edit_steps, order=80)
