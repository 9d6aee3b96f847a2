"""Revising and adaptive samplers: each one's defining behaviour on hand-made models and oracles."""

from __future__ import annotations

import math

import pytest
import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from tests.test_engine import MASK, PAD, VOCAB, FixedLogits

PROMPTS = [[5, 6, 7], [8], [9, 10], [11, 12, 13, 14]]


def run(cfg: DecodeConfig, length: int, model=None, prompts=PROMPTS, eos_ids=()):
    model = model or FixedLogits(length, scale=2.0)
    return denoise(model, prompts, cfg, make_schedule(cfg, length), mask_id=MASK, pad_id=PAD, eos_ids=eos_ids,
                   keys=row_keys(prompts, cfg.seed), device=torch.device("cpu"))


def test_eb_with_zero_bound_is_one_token_per_step_in_entropy_order() -> None:
    eb = run(DecodeConfig(strategy="eb", entropy_bound=0.0), 10)
    topk = run(DecodeConfig(score="entropy"), 10)
    assert eb.nfe.tolist() == [10] * 4
    assert torch.equal(eb.finalized_at, topk.finalized_at) and torch.equal(eb.answer, topk.answer)


def test_eb_commits_more_as_the_bound_grows() -> None:
    nfe = [run(DecodeConfig(strategy="eb", entropy_bound=g), 12).nfe[0].item() for g in (0.0, 1.0, 5.0, 100.0)]
    assert nfe[0] == 12 and nfe == sorted(nfe, reverse=True) and nfe[-1] == 1


@pytest.mark.parametrize(("length", "block", "steps"), [(8, 8, 4), (16, 16, 5), (12, 4, 9), (6, 6, 4)])
def test_dilated_never_commits_neighbours_together(length: int, block: int, steps: int) -> None:
    out = run(DecodeConfig(strategy="dilated", block_length=block), length)
    assert out.nfe.tolist() == [steps] * 4  # ceil(log2 B) + 1 per block
    for row in out.finalized_at.tolist():
        assert all(a != b for a, b in zip(row, row[1:]))
    assert out.finalized_at[0, :8].tolist()[:1] == [1]


class Contextual:
    """Position 0 predicts token 3 until position 1 holds token 4, then token 5 with near certainty."""

    def __call__(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(ids.shape[0], ids.shape[1], VOCAB)
        p0, p1 = ids.shape[1] - 2, ids.shape[1] - 1
        seen = (ids[:, p1] == 4)[:, None]
        logits[:, p0] = torch.where(seen, torch.nn.functional.one_hot(torch.tensor(5), VOCAB) * 20.0,
                                    torch.nn.functional.one_hot(torch.tensor(3), VOCAB) * 6.0)
        logits[:, p1, 4] = 5.0
        return logits


def test_edit_overwrites_a_committed_token_after_the_block_fills() -> None:
    out = run(DecodeConfig(strategy="edit", threshold=0.999, edit_threshold=0.99), 2, model=Contextual())
    assert out.answer[0].tolist() == [5, 4]
    assert out.revised.tolist() == [1] * 4
    assert out.finalized_at[0].tolist() == [3, 2]  # position 0 last changed at step 3
    assert out.nfe.tolist() == [4] * 4  # fill, fill, edit, one editing step that changes nothing
    plain = run(DecodeConfig(strategy="threshold", threshold=0.999), 2, model=Contextual())
    assert plain.answer[0].tolist() == [3, 4] and plain.revised.sum() == 0


def test_edit_respects_the_bound_on_editing_steps() -> None:
    out = run(DecodeConfig(strategy="edit", threshold=0.999, edit_threshold=0.99, max_edit_steps=0), 2,
              model=Contextual())
    assert out.answer[0].tolist() == [3, 4] and out.nfe.tolist() == [2] * 4


def test_remdm_remasks_committed_tokens_and_still_finishes() -> None:
    out = run(DecodeConfig(strategy="remdm", remdm_variant="rescale", remdm_eta=1.0), 16)
    assert (out.answer != MASK).all() and out.revised.sum() > 0
    assert (out.finalized_at > 0).all() and out.nfe.tolist() == [16] * 4  # one step per token budget


def test_remdm_with_eta_zero_never_remasks_and_outside_its_window_either() -> None:
    assert run(DecodeConfig(strategy="remdm", remdm_eta=0.0), 16).revised.sum() == 0
    off = DecodeConfig(strategy="remdm", remdm_variant="rescale", remdm_eta=1.0, remdm_t_on=0.0, remdm_t_off=0.0)
    assert run(off, 16).revised.sum() == 0
    conf = DecodeConfig(strategy="remdm", remdm_variant="conf", remdm_eta=1.0)
    assert run(conf, 16).revised.sum() > 0


def test_rcr_follows_the_schedule_and_can_remask() -> None:
    def logit(p: float) -> float:  # target logit giving confidence p against VOCAB - 1 zero logits
        return math.log(p * (VOCAB - 1) / (1 - p))

    def forward(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        """Step 1 prefers position 0 (0.6); once one token is in, positions 1, 2 become surer (0.9, 0.95)."""
        logits = torch.zeros(ids.shape[0], ids.shape[1], VOCAB)
        filled = (ids[:, -3:] != MASK).sum(1)
        first = torch.tensor([logit(0.6), logit(0.5), logit(0.4)])
        later = torch.tensor([logit(0.6), logit(0.9), logit(0.95)])
        logits[:, -3:, 3] = torch.where((filled == 0)[:, None], first, later)
        return logits

    out = run(DecodeConfig(strategy="rcr"), 3, model=forward)
    # step 1 keeps position 0; step 2 keeps the two surest (1, 2) and re-masks 0; step 3 refills 0
    assert out.finalized_at[0].tolist() == [3, 2, 2] and out.nfe.tolist() == [3] * 4
    assert out.revised.tolist() == [1] * 4 and (out.answer == 3).all()
    plain = run(DecodeConfig(), 3, model=forward)
    assert plain.revised.sum() == 0 and plain.finalized_at[0].tolist() == [1, 3, 2]


@pytest.mark.parametrize("gamma", [0.3, 0.6, 0.9])
def test_klass_with_infinite_kl_bound_is_threshold(gamma: float) -> None:
    klass = run(DecodeConfig(strategy="klass", klass_confidence=gamma, klass_kl=math.inf, klass_history=0), 12)
    threshold = run(DecodeConfig(strategy="threshold", threshold=gamma), 12)
    assert torch.equal(klass.finalized_at, threshold.finalized_at) and torch.equal(klass.answer, threshold.answer)


def test_klass_waits_for_stable_predictions() -> None:
    eager = run(DecodeConfig(strategy="klass", klass_confidence=0.3, klass_kl=math.inf, klass_history=0), 12)
    patient = run(DecodeConfig(strategy="klass", klass_confidence=0.3, klass_kl=1e-9, klass_history=2), 12)
    # FixedLogits never changes its predictions (KL = 0), so stability only delays the first commits
    assert (patient.finalized_at[0] >= 1).all() and patient.nfe[0] > eager.nfe[0]


def test_the_mask_token_is_never_proposed() -> None:
    model = FixedLogits(6)
    model.table[:, MASK] = 1e4  # a model that loves predicting [MASK]
    out = run(DecodeConfig(), 6, model=model)
    assert (out.answer != MASK).all() and out.nfe.tolist() == [6] * 4


@pytest.mark.parametrize("op", ["shuffle", "replace_random"])
def test_samplers_run_on_the_exact_oracles(op: str) -> None:
    """Every sampler decodes valid list-operation answers with an exact model (all positions filled)."""
    from lm_eval_mdlm.oracle import load_oracle

    oracle = load_oracle(f"oracle:{op}?layout=bare")
    prompts = [oracle.tokenizer(f"Randomly shuffle the following list:\n[{', '.join('ABCDE')}]\n"
                                "Provide only the final list.", add_special_tokens=False).input_ids] * 3
    if op == "replace_random":
        prompts = [oracle.tokenizer("Replace one random item with F in the following list:\n[A, B, C, D, E]\n"
                                    "Provide only the final list.", add_special_tokens=False).input_ids] * 3
    for strategy in ("eb", "dilated", "klass", "remdm", "rcr", "edit"):
        cfg = DecodeConfig(strategy=strategy)
        out = denoise(oracle, prompts, cfg, make_schedule(cfg, 6), mask_id=oracle.mask_id, pad_id=oracle.pad_id,
                      eos_ids=oracle.eos_ids, keys=row_keys(prompts, 0), device=torch.device("cpu"))
        assert (out.answer[:, :5] != oracle.mask_id).all(), strategy


def test_klass_commits_everything_stable_after_its_history_on_an_exact_model() -> None:
    """The copy oracle never changes its mind: klass takes `history` fallback steps, then one more."""
    from lm_eval_mdlm.oracle import load_oracle

    oracle = load_oracle("oracle:copy")
    prompts = [oracle.tokenizer("Copy the following list exactly:\n[A, B, C, D]\nProvide only the final list.",
                                add_special_tokens=False).input_ids]
    for history in (1, 2, 4):
        cfg = DecodeConfig(strategy="klass", klass_history=history)
        out = denoise(oracle, prompts, cfg, make_schedule(cfg, 16), mask_id=oracle.mask_id, pad_id=oracle.pad_id,
                      eos_ids=oracle.eos_ids, keys=row_keys(prompts, 0), device=torch.device("cpu"))
        assert out.nfe.tolist() == [history + 1]
        assert oracle.tokenizer.decode(out.answer[0, :9].tolist()).replace(" ", "") == "[A,B,C,D]"
