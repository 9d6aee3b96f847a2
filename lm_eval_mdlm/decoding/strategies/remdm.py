"""``remdm``: ReMDM (Wang et al. 2025, "Remasking Discrete Diffusion Models with Inference-Time Scaling")."""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding import noise
from lm_eval_mdlm.decoding.rules import StepView, score_confidence
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext
from lm_eval_mdlm.errors import ConfigError
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy

KNOBS = (
    Knob("remdm_variant", "str", "cap", "remasking probability `cap` min(eta, sigma_max), `rescale` "
         "eta * sigma_max or `conf` (rescaled, towards low-confidence tokens)", choices=("cap", "rescale", "conf")),
    Knob("remdm_eta", "float", 0.04, "its eta", low=0.0),
    Knob("remdm_t_on", "float", 1.0, "remasking acts while the diffusion time t <= this"),
    Knob("remdm_t_off", "float", 0.0, "and t >= this"),
)


def _check_window(cfg: Config) -> None:
    """The remasking window [t_off, t_on] must be a sub-interval of the diffusion times [0, 1]."""
    if not 0.0 <= cfg.remdm_t_off <= cfg.remdm_t_on <= 1.0:
        raise ConfigError(f"remdm_t_off={cfg.remdm_t_off!r}, remdm_t_on={cfg.remdm_t_on!r} are invalid: "
                          "need 0 <= remdm_t_off <= remdm_t_on <= 1 (the window of diffusion times).")


class ReMDM(Sampler):
    """Committed tokens are re-masked with probability sigma_t and masked ones unmasked with
    (alpha_s - (1 - sigma_t) alpha_t) / (1 - alpha_t) (Sec. 3), on the linear schedule alpha_t = 1 - t over
    the block's step budget (k= / steps=). sigma_max = min(1, (1 - alpha_s) / alpha_t); ``cap``:
    sigma = min(eta, sigma_max); ``rescale``: eta * sigma_max; ``conf``: eta * sigma_max per token,
    redistributed towards low-confidence tokens (softmax of -confidence). Remasking only acts while
    t lies in [remdm_t_off, remdm_t_on]. A block always runs its full step budget, and its last step
    unmasks everything left.
    """

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
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


STRATEGY = Strategy("remdm", "re-masks committed tokens with probability sigma_t (ReMDM)", ReMDM, knobs=KNOBS,
                    quota=True, scored=False, check=_check_window, order=60)
