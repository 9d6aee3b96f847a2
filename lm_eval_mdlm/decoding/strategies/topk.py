"""``topk``: a fixed quota per step (LLaDA's reference ``generate()``: low-confidence remasking)."""

from __future__ import annotations

from lm_eval_mdlm.decoding.rules import StepView, select_topk
from lm_eval_mdlm.decoding.strategies.base import Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Strategy


class TopK(Sampler):
    """Commit the step's quota (``k=`` per step, or LLaDA's split of ``steps=``) of best-scoring candidates."""

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        return Decision(select_topk(self.score(view), ctx.candidates, ctx.quota()))


STRATEGY = Strategy("topk", "a fixed quota per step, `k=` or `steps=` (LLaDA)", TopK, quota=True, order=0)
