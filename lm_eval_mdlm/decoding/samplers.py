"""Strategies as samplers: what one step commits, re-masks or rewrites inside each row's block.

The loop (:mod:`lm_eval_mdlm.decoding.loop`) hands a sampler the model's view of the window (the
current block) and a :class:`StepContext`; the sampler returns a :class:`Decision`. Commit-once
strategies only *write* masked positions; revising ones may also *re-mask* committed positions
(ReMDM, RCR), *overwrite* them (editing) or *hold* a finished block for more editing steps. Samplers
keep per-row state (indexed by batch row) where a rule needs memory across steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding import noise
from lm_eval_mdlm.decoding.rules import (
    SCORE_RULES,
    StepView,
    dilated_groups,
    score_confidence,
    score_entropy,
    select_entropy_bound,
    select_factor,
    select_threshold,
    select_topk,
)
from lm_eval_mdlm.decoding.schedule import Schedule

WindowForward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(canvas (B, L), attention (B, L) bool, rows (A,), window columns (A, W), refresh (A,) bool) -> logits (A, W, V),
the mask token already excluded (:data:`lm_eval_mdlm.decoding.loop.WindowForward`)."""


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
    schedule: Schedule
    phase: torch.Tensor
    """(A,) answer positions before the first block boundary (0 unless blocks are aligned to the
    prompt, :class:`~lm_eval_mdlm.decoding.schedule.Schedule`); schedule calls take it."""
    eos: torch.Tensor | None = None
    """(E,) ids that end an answer (a row settled up to its first EOS leaves the batch)."""


@dataclass
class Decision:
    """What a step does: write ``view.tokens`` at ``write``, re-mask ``remask``, keep the block (``hold``)."""

    write: torch.Tensor
    remask: torch.Tensor | None = None
    hold: torch.Tensor | None = None
    tokens: torch.Tensor | None = None
    """(A, W) tokens to write instead of ``view.tokens`` (speculative drafts accepted this step)."""


class Sampler:
    """Commit-once strategies: score the candidates, commit what the select rule picks."""

    fanout = 1
    """Canvases one row may send through a single forward (the loop sizes its forward for ``batch * fanout``)."""
    reads_committed = False
    """Whether the sampler reads tokens or scores of committed slots (the loop scores only candidates otherwise)."""

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
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
        scores = self.score(view)
        cfg = self.cfg
        if cfg.strategy == "threshold":
            return Decision(select_threshold(scores, ctx.candidates, cfg.threshold))
        if cfg.strategy == "factor":
            return Decision(select_factor(scores, ctx.candidates, cfg.factor, cfg.factor_rule))
        quota = ctx.schedule.quota(ctx.block, ctx.step_in_block, ctx.phase)
        return Decision(select_topk(scores, ctx.candidates, quota))


class EntropyBounded(Sampler):
    """``eb``: EB-sampler's entropy-bounded prefix (:func:`select_entropy_bound`)."""

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        return Decision(select_entropy_bound(-score_entropy(view), ctx.candidates, self.cfg.entropy_bound))


class Dilated(Sampler):
    """``dilated``: DUS's coarse-to-fine groups; each step commits the coarsest group still masked."""

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.groups = dilated_groups(self.width, device)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        groups = self.groups.expand_as(ctx.candidates)
        pending = torch.where(ctx.candidates, groups, groups.max() + 1)
        return Decision(ctx.candidates & (groups == pending.min(-1, keepdim=True).values))


class KLAdaptive(Sampler):
    """``klass``: commit stable, confident positions; fall back to the top-k quota.

    KLASS (Kim et al. 2025, "KL-Adaptive Stability Sampling"): a masked position is committed when
    its confidence reaches ``klass_confidence`` and KL(p_t || p_t-1) of its predictive distribution
    stayed below ``klass_kl`` for ``klass_history`` consecutive steps; a step where none qualifies
    commits the top-k quota by score. With klass_kl = inf and history 0 this is ``threshold``.
    """

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
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
        fallback = select_topk(scores, ctx.candidates, ctx.schedule.quota(ctx.block, ctx.step_in_block, ctx.phase))
        return Decision(torch.where(ready.any(-1, keepdim=True), ready, fallback))


class ReMDM(Sampler):
    """``remdm``: ReMDM (Wang et al. 2025, "Remasking Discrete Diffusion Models with Inference-Time
    Scaling", Sec. 3): committed tokens are re-masked with probability sigma_t and masked ones unmasked
    with (alpha_s - (1 - sigma_t) alpha_t) / (1 - alpha_t), on the linear schedule alpha_t = 1 - t over
    the block's step budget (k= / steps=). sigma_max = min(1, (1 - alpha_s) / alpha_t); ``cap``:
    sigma = min(eta, sigma_max); ``rescale``: eta * sigma_max; ``conf``: eta * sigma_max per token,
    redistributed towards low-confidence tokens (softmax of -confidence). Remasking only acts while
    t lies in [remdm_t_off, remdm_t_on]. A block always runs its full step budget, and its last step
    unmasks everything left.
    """

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.confidence = torch.zeros(batch, length, dtype=torch.float64, device=device)

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        cfg = self.cfg
        steps = ctx.schedule.block_steps(ctx.block, ctx.phase).double()
        i = ctx.step_in_block.double().clamp(max=steps - 1)
        t, s = 1 - i / steps, 1 - (i + 1) / steps
        alpha_t, alpha_s = (1 - t)[:, None], (1 - s)[:, None]
        sigma_max = torch.where(alpha_t > 0, ((1 - alpha_s) / alpha_t.clamp_min(1e-12)).clamp(max=1), 0.0)
        if cfg.remdm_variant == "cap":
            sigma = sigma_max.clamp(max=cfg.remdm_eta)
        else:
            sigma = cfg.remdm_eta * sigma_max
        active = ((t >= cfg.remdm_t_off) & (t <= cfg.remdm_t_on))[:, None]
        sigma = torch.where(active, sigma, 0.0).expand_as(ctx.committed)
        if cfg.remdm_variant == "conf":
            held = self.confidence[ctx.rows].gather(1, view.positions)
            weights = torch.softmax((-held).masked_fill(~ctx.committed, float("-inf")), -1).nan_to_num(0.0)
            sigma = (sigma * weights * ctx.committed.sum(-1, keepdim=True)).clamp(max=1.0)
        unmask = ((alpha_s - (1 - sigma) * alpha_t) / (1 - alpha_t).clamp_min(1e-12)).clamp(0.0, 1.0)
        u = noise.uniform(view.keys, view.step, view.positions, 1, salt=2)[..., 0]
        write = ctx.candidates & (u < unmask)
        r, j = write.nonzero(as_tuple=True)  # remember the confidence each token was committed with
        self.confidence[ctx.rows[r], view.positions[r, j]] = score_confidence(view)[r, j]
        # the block runs its whole step budget: later steps may still re-mask what is filled early
        return Decision(write, ctx.committed & (u < sigma), hold=ctx.step_in_block + 1 < steps)


class RunningConfidence(Sampler):
    """``rcr``: running confidence remasking (MDPO, He et al. 2025, Sec. 4): every step fills all masks,
    each filled position keeps the confidence it was filled with, and only the best positions up to the
    schedule's cumulative quota stay committed; the rest (old commitments included) are re-masked."""

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
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


class Editing(Sampler):
    """``edit``: generate-then-edit (LLaDA 2.1's token-to-token editing, arXiv 2602.08676 model card).

    Masks are filled by the threshold rule; in the same step every committed token whose new
    prediction differs with confidence >= ``edit_threshold`` is overwritten. After a block is filled
    the row keeps it for up to ``max_edit_steps`` editing-only steps, stopping early once a step
    changes nothing.
    """

    reads_committed = True

    def __init__(self, cfg: DecodeConfig, batch: int, length: int, device: torch.device) -> None:
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


SAMPLERS: dict[str, type[Sampler]] = {
    "topk": Sampler, "threshold": Sampler, "factor": Sampler, "eb": EntropyBounded, "dilated": Dilated,
    "klass": KLAdaptive, "remdm": ReMDM, "rcr": RunningConfidence, "edit": Editing,
}
"""Samplers of this module; :mod:`lm_eval_mdlm.decoding.psd` adds ``psd`` in ``loop.ENGINE_SAMPLERS``."""
