"""The denoising loop and its rules against closed forms, on hand-made forwards with known logits."""

from __future__ import annotations

import math

import pytest
import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.loop import build_canvas, denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.rules import select_factor, select_threshold, select_topk
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.metrics.decoding import trace_metrics

MASK, PAD, EOS, VOCAB = 1, 0, 2, 16


class FixedLogits:
    """A 'model' whose logits at each answer position depend only on the position (seeded).

    Confidences are strictly below 1 and distinct, so the closed forms below are exact; EOS can be
    made the argmax at chosen answer positions.
    """

    def __init__(self, length: int, eos_at: tuple[int, ...] = (), seed: int = 0, scale: float = 3.0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.table = torch.randn(length, VOCAB, generator=gen) * scale
        self.table[:, [MASK, PAD]] = -1e4
        self.table[:, EOS] = -1e4
        for pos in eos_at:
            self.table[pos, EOS] = 1e3
        self.length = length
        self.calls = 0

    def __call__(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        logits = torch.zeros(ids.shape[0], ids.shape[1], VOCAB)
        logits[:, -self.length:] = self.table
        return logits


def run(cfg: DecodeConfig, length: int, prompts=((5, 6, 7), (8,)), eos_at=(), eos_ids=(EOS,), seed=0):
    model = FixedLogits(length, eos_at, seed)
    out = denoise(model, [list(p) for p in prompts], cfg, make_schedule(cfg, length), mask_id=MASK,
                  pad_id=PAD, eos_ids=eos_ids, keys=row_keys(prompts, cfg.seed), device=torch.device("cpu"))
    return out, model


def test_canvas_left_pads_prompts_and_masks_the_answer() -> None:
    ids, attention = build_canvas([[5, 6, 7], [8]], 2, MASK, PAD, torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7, MASK, MASK], [PAD, PAD, 8, MASK, MASK]]
    assert attention.tolist() == [[True] * 5, [False, False, True, True, True]]


@pytest.mark.parametrize(("length", "block", "k"), [(12, None, 3), (10, 4, 3), (10, None, 4), (7, 3, 2)])
def test_topk_takes_ceil_n_over_k_forwards_per_block(length: int, block: int | None, k: int) -> None:
    out, _ = run(DecodeConfig(k=k, block_length=block), length, eos_ids=())
    bl = block or length
    expected = sum(math.ceil(min(bl, length - s) / k) for s in range(0, length, bl))
    assert out.nfe.tolist() == [expected, expected]
    assert (out.finalized_at > 0).all()
    # every step commits exactly k tokens except the last one of each block
    for row in out.finalized_at.tolist():
        counts = [row.count(s) for s in range(1, expected + 1)]
        assert all(c <= k for c in counts) and sum(counts) == length


def test_steps_follow_llada_schedule() -> None:
    # n = 10 tokens in 4 steps: base 2, the first 10 % 4 = 2 steps take one more -> 3, 3, 2, 2
    out, _ = run(DecodeConfig(steps=4), 10, eos_ids=())
    counts = [out.finalized_at[0].tolist().count(s) for s in (1, 2, 3, 4)]
    assert counts == [3, 3, 2, 2] and out.nfe.tolist() == [4, 4]


def test_steps_are_split_over_blocks_and_capped_by_block_size() -> None:
    cfg = DecodeConfig(steps=5, block_length=4)  # blocks 4, 4, 2 tokens; steps 2, 2, 1
    out, _ = run(cfg, 10, eos_ids=())
    assert out.nfe.tolist() == [5, 5]
    assert make_schedule(DecodeConfig(steps=30, block_length=4), 10).steps_per_block == (4, 4, 2)


def test_steps_fewer_than_blocks_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"steps=2 is fewer than the 3 blocks.*steps >= 3"):
        make_schedule(DecodeConfig(steps=2, block_length=4), 10)


def test_threshold_one_takes_n_forwards() -> None:
    out, _ = run(DecodeConfig(strategy="threshold", threshold=1.0), 9, eos_ids=())
    assert out.nfe.tolist() == [9, 9]
    assert sorted(out.finalized_at[0].tolist()) == list(range(1, 10))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_left_to_right_gives_tau_one_and_afp_k(k: int) -> None:
    out, _ = run(DecodeConfig(score="left_to_right", k=k), 12, eos_ids=())
    steps = out.finalized_at[0].tolist()
    metrics = trace_metrics(out.answer[0].tolist(), steps, int(out.nfe[0]), (EOS,), 12)
    assert steps == [1 + i // k for i in range(12)]
    assert metrics["afp"] == pytest.approx(k)
    # tau-b is 1 for a strict left-to-right order; k tokens committed together are ties in the
    # step, which cap tau-b at sqrt((pairs - tied pairs) / pairs) (no discordant pair is possible).
    pairs, tied = 12 * 11 / 2, (12 // k) * k * (k - 1) / 2
    assert metrics["kendall_tau"] == pytest.approx(math.sqrt((pairs - tied) / pairs))
    assert (metrics["kendall_tau"] == pytest.approx(1.0)) == (k == 1)


def test_blocks_are_finished_left_to_right() -> None:
    out, _ = run(DecodeConfig(strategy="threshold", threshold=0.2, block_length=4), 12, eos_ids=())
    steps = out.finalized_at[0].tolist()
    for b in range(2):
        assert max(steps[4 * b:4 * b + 4]) < min(steps[4 * b + 4:4 * b + 8])


def test_rows_stop_at_eos_and_cost_no_more_forwards() -> None:
    # EOS is the surest prediction at position 3; left_to_right commits positions 0..3 then stops.
    out, model = run(DecodeConfig(score="left_to_right"), 10, eos_at=(3,))
    assert out.nfe.tolist() == [4, 4] and model.calls == 4
    assert out.answer[0, 3].item() == EOS and (out.answer[0, 4:] == MASK).all()
    assert (out.finalized_at[0, 4:] == 0).all()


def test_eos_committed_early_does_not_stop_while_earlier_positions_are_masked() -> None:
    # Confidence order commits the EOS at position 5 first, then must still fill positions 0..4.
    out, _ = run(DecodeConfig(), 8, eos_at=(5,))
    assert out.finalized_at[0, 5].item() == 1
    assert (out.finalized_at[0, :5] > 0).all()
    # it stops at the forward that settles the last of positions 0..4, whatever is left after EOS
    assert out.nfe[0].item() == out.finalized_at[0, :5].max().item() < 8


def test_topk_select_respects_quota_candidates_and_ties() -> None:
    scores = torch.tensor([[0.5, 0.9, 0.9, 0.1], [0.3, 0.2, 0.1, 0.0]], dtype=torch.float64)
    cand = torch.tensor([[True, True, True, True], [False, True, True, True]])
    chosen = select_topk(scores, cand, torch.tensor([2, 5]))
    assert chosen.tolist() == [[False, True, True, False], [False, True, True, True]]


def test_threshold_select_falls_back_to_single_best() -> None:
    scores = torch.tensor([[0.95, 0.5, 0.91], [0.2, 0.4, 0.3]], dtype=torch.float64)
    cand = torch.ones(2, 3, dtype=torch.bool)
    assert select_threshold(scores, cand, 0.9).tolist() == [[True, False, True], [False, True, False]]


def test_factor_select_matches_its_definition() -> None:
    # sorted c = 0.99, 0.9, 0.8, 0.5; (n+1)(1-c) = 0.02, 0.3, 0.8, 2.5 -> n = 3 for f = 1, 1 for f = 0.1
    scores = torch.tensor([[0.8, 0.99, 0.5, 0.9]], dtype=torch.float64)
    cand = torch.ones(1, 4, dtype=torch.bool)
    assert select_factor(scores, cand, 1.0).tolist() == [[True, True, False, True]]
    assert select_factor(scores, cand, 0.1).tolist() == [[False, True, False, False]]
    assert select_factor(scores, cand, 0.001).sum().item() == 1  # at least one


def test_temperature_samples_the_softmax() -> None:
    """Gumbel-max at T = 1 draws token v with probability softmax(logits)_v (2,000 rows, 3 sigma)."""
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    probs = torch.softmax(logits, 0)

    def forward(ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        out = torch.full((ids.shape[0], ids.shape[1], VOCAB), -1e4)
        out[..., 4:8] = logits
        return out

    rows = 2000
    cfg = DecodeConfig(temperature=1.0, seed=3)
    out = denoise(forward, [[5]] * rows, cfg, make_schedule(cfg, 1), mask_id=MASK, pad_id=PAD, eos_ids=(),
                  keys=row_keys([[5]] * rows, 3), device=torch.device("cpu"))
    freq = torch.bincount(out.answer[:, 0] - 4, minlength=4).double() / rows
    sigma = (probs * (1 - probs) / rows).sqrt()
    assert ((freq - probs).abs() <= 3 * sigma + 1e-9).all(), (freq, probs)


def test_random_score_depends_on_seed_not_on_batch() -> None:
    a, _ = run(DecodeConfig(score="random", seed=1), 10, eos_ids=())
    b, _ = run(DecodeConfig(score="random", seed=1), 10, eos_ids=(), prompts=((5, 6, 7),))
    c, _ = run(DecodeConfig(score="random", seed=2), 10, eos_ids=())
    assert a.finalized_at[0].tolist() == b.finalized_at[0].tolist()
    assert a.finalized_at[0].tolist() != c.finalized_at[0].tolist()
