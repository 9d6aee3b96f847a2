"""``threshold``: Fast-dLLM's confidence threshold (Wu et al. 2025, "Fast-dLLM", Sec. 3.3)."""

from __future__ import annotations

from lm_eval_mdlm.decoding.rules import StepView, select_threshold
from lm_eval_mdlm.decoding.strategies.base import Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

THRESHOLD = Knob("threshold", "float", 0.9, "commit every masked position with score >= threshold (at least one)",
                 low=0.0, high=1.0, low_open=True, hint="e.g. threshold=0.9", parallel=-1)
"""Also read by ``edit`` (its fill rule) and ``psd`` (its ``threshold`` policy)."""


class Threshold(Sampler):
    """Commit every candidate whose score reaches ``threshold``; a row with none commits its best one."""

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        return Decision(select_threshold(self.score(view), ctx.candidates, self.cfg.threshold))


STRATEGY = Strategy("threshold", "every position whose score reaches `threshold` (Fast-dLLM)", Threshold,
                    knobs=(THRESHOLD,), probability=True, primary="threshold", order=10)
