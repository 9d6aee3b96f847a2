"""Every strategy ends, at every knob limit, within its proven step bound (``loop.step_bound``).

The loop asserts the bound itself; here each strategy runs at the extremes of its knobs (the values
validation lets through: 0, 1, huge, inf where it means "no bound") on a real tiny checkpoint with peaked
predictions, with and without blocks, and must finish every answer (no mask left before its first EOS)
in at most ``step_bound`` forwards, all cases together within a wall-clock bound.
"""

from __future__ import annotations

import time

import pytest
from lm_eval.api.instance import Instance

from lm_eval_mdlm.config import DecodeConfig, coerce
from lm_eval_mdlm.decoding.loop import step_bound
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.model import MDLM

LENGTH = 12
LIMITS: list[dict[str, object]] = [
    {"strategy": "topk", "k": 1}, {"strategy": "topk", "k": 1000}, {"strategy": "topk", "steps": 1},
    {"strategy": "topk", "score": "random", "temperature": 1e6},
    {"strategy": "threshold", "threshold": 1.0}, {"strategy": "threshold", "threshold": 1e-12},
    {"strategy": "factor", "factor": 1e-12}, {"strategy": "factor", "factor": "inf"},
    {"strategy": "eb", "entropy_bound": 0.0}, {"strategy": "eb", "entropy_bound": "inf"},
    {"strategy": "dilated"}, {"strategy": "dilated", "block_length": 5},
    {"strategy": "klass", "klass_confidence": 1.0, "klass_kl": 0.0, "klass_history": 1000},
    {"strategy": "klass", "klass_kl": "inf", "klass_history": 0, "klass_confidence": 1e-12},
    {"strategy": "remdm", "remdm_variant": "cap", "remdm_eta": 0.0},
    {"strategy": "remdm", "remdm_variant": "rescale", "remdm_eta": 1e6, "k": 1},
    {"strategy": "remdm", "remdm_variant": "conf", "remdm_eta": 1e6, "steps": 1},
    {"strategy": "remdm", "remdm_variant": "rescale", "remdm_eta": 1e6, "remdm_t_off": 1.0, "remdm_t_on": 1.0},
    {"strategy": "rcr", "k": 1}, {"strategy": "rcr", "steps": 1000},
    {"strategy": "edit", "threshold": 1.0, "edit_threshold": 0.0, "max_edit_steps": 1000},
    {"strategy": "edit", "threshold": 1e-12, "edit_threshold": 1.0, "max_edit_steps": 0},
]
# with blocks too, except where the knob sets blocks itself or steps=1 (refused: fewer steps than blocks)
CASES = [dict(knobs, **blocks) for knobs in LIMITS for blocks in ({}, {"block_length": 4})
         if not blocks or ("block_length" not in knobs and knobs.get("steps") != 1)]


def request(context: str, **gen_kwargs: object) -> Instance:
    return Instance("generate_until", {}, (context, {"until": [], "max_gen_toks": LENGTH, **gen_kwargs}), 0,
                    metadata=("bounds", 0, 1))


def test_every_strategy_ends_within_its_bound_at_its_knob_limits(sharp_bert: str) -> None:
    lm = MDLM(pretrained=sharp_bert, device="cpu", batch_size=3)
    prompts = ["Copy the list: [1, 2, 3] ->", "hello", "The quick brown fox jumps over"]
    started = time.monotonic()
    for knobs in CASES:
        cfg = DecodeConfig(**coerce({**{k: str(v) for k, v in knobs.items()}, "max_gen_toks": str(LENGTH)}))
        bound = step_bound(cfg, make_schedule(cfg, LENGTH))
        outputs = lm.generate_until([request(p, **knobs) for p in prompts], disable_tqdm=True)
        for out in outputs:
            steps, nfe = out.trace["finalization_steps"], out.trace["nfe"]
            assert 1 <= nfe <= bound, (knobs, nfe, bound)
            assert len(steps) == out.trace["metrics"]["answer_tokens"] and all(s >= 1 for s in steps), knobs
    assert time.monotonic() - started < 120, "the knob limits took too long: a strategy is near a hang"


@pytest.mark.parametrize(("knobs", "bound"), [
    ({"strategy": "topk"}, LENGTH), ({"strategy": "threshold"}, LENGTH),
    ({"strategy": "edit", "max_edit_steps": 3, "block_length": 4}, LENGTH + 3 * 3),
])
def test_step_bound_closed_form(knobs: dict, bound: int) -> None:
    """One commit per step at worst, plus ``edit``'s editing-only steps per block."""
    cfg = DecodeConfig(**knobs)
    assert step_bound(cfg, make_schedule(cfg, LENGTH)) == bound


def test_loop_stops_a_strategy_that_passes_its_bound(sharp_bert: str) -> None:
    """The hang the issue found (remdm_eta=inf: inf * 0 = NaN unmask probability), with validation bypassed:
    the loop's bound assertion ends it instead of looping forever."""
    from lm_eval_mdlm.decoding.loop import denoise

    lm = MDLM(pretrained=sharp_bert, device="cpu")
    cfg = DecodeConfig(strategy="remdm", remdm_variant="rescale", max_gen_toks=LENGTH)
    object.__setattr__(cfg, "remdm_eta", float("inf"))  # what validation now refuses
    denoiser = lm.denoiser
    with pytest.raises(AssertionError, match=r"strategy=remdm passed its bound of 12 steps"):
        denoise(denoiser, [lm.tok_encode("hello")], cfg, make_schedule(cfg, LENGTH), mask_id=denoiser.mask_id,
                pad_id=denoiser.pad_id, eos_ids=denoiser.eos_ids, keys=[0], device=lm.device)
