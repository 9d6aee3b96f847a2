"""``klass``: KL-Adaptive Stability Sampling (Kim et al. 2025, "KL-Adaptive Stability Sampling")."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, select_topk
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

KNOBS = (
    Knob("klass_confidence", "float", 0.9, "commit positions whose confidence reaches this",
         low=0.0, high=1.0, low_open=True),
    Knob("klass_kl", "float", 0.01, "whose KL between consecutive predictions stayed below this",
         low=0.0, unbounded=True),
    Knob("klass_history", "int", 2, "for this many steps (else the top-k quota)", low=0),
)


class KLAdaptive(Sampler):
    """Commit stable, confident positions; fall back to the top-k quota.

    A masked position is committed when its confidence reaches ``klass_confidence`` and KL(p_t || p_t-1) of its
    predictive distribution stayed below ``klass_kl`` for ``klass_history`` consecutive steps; a step where none
    qualifies commits the top-k quota by score. With klass_kl = inf and history 0 this is ``threshold``.
    """

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.stable = torch.zeros(batch, self.width, dtype=torch.long, device=device)
        self.previous: torch.Tensor | None = None  # (B, W, V) log-probs of the last step; V known at step 1

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        logp = torch.log_softmax(view.logits.float(), -1)
        if self.previous is None:
            self.previous = torch.zeros((self.stable.shape[0],) + logp.shape[1:], device=logp.device)
        rows, fresh = ctx.rows, ctx.new_block[:, None]
        p = logp.exp()  # impossible tokens (log p = -inf, e.g. the mask id) contribute 0, not NaN
        kl = torch.where(p > 0, p * (logp - self.previous[rows]), 0.0).sum(-1)
        steady = ~fresh & (kl < self.cfg.klass_kl)
        stable = torch.where(steady, self.stable[rows] + 1, 0)
        self.stable[rows], self.previous[rows] = stable, logp
        scores = self.score(view)
        ready = ctx.candidates & (scores >= self.cfg.klass_confidence) & (stable >= self.cfg.klass_history)
        fallback = select_topk(scores, ctx.candidates, ctx.quota())
        return Decision(torch.where(ready.any(-1, keepdim=True), ready, fallback))


STRATEGY = Strategy("klass", "stable, confident positions, else the top-k quota (KLASS)", KLAdaptive, knobs=KNOBS,
                    quota=True, probability=True, order=50)
