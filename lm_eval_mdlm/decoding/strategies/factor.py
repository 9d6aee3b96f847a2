"""``factor``: Fast-dLLM's factor rule (Wu et al. 2025, "Fast-dLLM", Thm. 2), or its code's variant."""

from __future__ import annotations

from lm_eval_mdlm.decoding.rules import StepView, select_factor
from lm_eval_mdlm.decoding.strategies.base import Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

KNOBS = (
    Knob("factor", "float", 1.0, "commit the largest n with (n+1)(1 - c_(n)) < factor (at least one)",
         low=0.0, low_open=True, unbounded=True, hint="e.g. factor=1.0", parallel=1),
    Knob("factor_rule", "str", "formula", "`formula` (the bound above) or `fastdllm` (Fast-dLLM's code, as "
         "ParallelBench ran it)", choices=("formula", "fastdllm")),
)


class Factor(Sampler):
    """Commit the largest prefix of descending scores the factor bound admits (:func:`select_factor`)."""

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        return Decision(select_factor(self.score(view), ctx.candidates, self.cfg.factor, self.cfg.factor_rule))


STRATEGY = Strategy("factor", "the largest n with (n+1)(1 - c_(n)) < `factor` (Fast-dLLM)", Factor, knobs=KNOBS,
                    probability=True, primary="factor", order=20)
