"""``eb``: EB-sampler's entropy-bounded unmasking (Ben-Hamu et al. 2025, Alg. 1)."""

from __future__ import annotations

from lm_eval_mdlm.decoding.rules import StepView, score_entropy, select_entropy_bound
from lm_eval_mdlm.decoding.strategies.base import Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

ENTROPY_BOUND = Knob("entropy_bound", "float", 0.1, "commit the largest entropy-sorted prefix with "
                     "sum(H) - max(H) <= entropy_bound (at least one)", low=0.0, unbounded=True, parallel=1)


class EntropyBounded(Sampler):
    """Commit the largest low-entropy prefix within the bound (:func:`select_entropy_bound`)."""

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        return Decision(select_entropy_bound(-score_entropy(view), ctx.candidates, self.cfg.entropy_bound))


STRATEGY = Strategy("eb", "the largest low-entropy prefix within `entropy_bound` (EB-sampler)", EntropyBounded,
                    knobs=(ENTROPY_BOUND,), scored=False, primary="entropy_bound", order=30)
