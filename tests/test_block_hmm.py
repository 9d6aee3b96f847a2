"""Block-HMM with a parity constraint (arXiv 2602.00286): exact model, exact mean-field decoder, and
the real engine sampling from that same decoder distribution."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
import torch

from lm_eval_mdlm.oracle import theory as th
from research.block_hmm import (
    BlockHMM,
    decoder_distribution,
    engine_samples,
    incoherence,
    kl_bits,
    odd_blocks,
    sweep,
)

MODEL = {"num_blocks": 2, "block_size": 4}  # default stay 0.9, biases (0.3, 0.7)


def conditional_from_joint(hmm: BlockHMM, p: np.ndarray, obs: torch.Tensor) -> torch.Tensor:
    """P(x_i = 1 | observed) by brute force over the enumerated joint."""
    grid = hmm.grid()
    out = torch.empty(obs.shape, dtype=torch.float64)
    for r, row in enumerate(obs):
        keep = ((row < 0) | (grid == row)).all(1).numpy()
        mass = p[keep]
        out[r] = torch.from_numpy((grid[keep].numpy() * mass[:, None]).sum(0) / mass.sum())
    return out


@pytest.mark.parametrize("noise", [0.0, 0.05])
def test_forward_backward_conditionals_match_the_enumerated_joint(noise: float) -> None:
    hmm = BlockHMM(noise=noise, **MODEL)
    p = hmm.joint()
    assert p.sum() == pytest.approx(1.0) and incoherence(hmm, p) == pytest.approx(noise, abs=1e-12)
    gen = torch.Generator().manual_seed(0)
    x = hmm.grid()[torch.from_numpy(np.random.default_rng(0).choice(len(p), 40, p=p))]
    obs = torch.where(torch.rand(x.shape, generator=gen) < 0.5, x, -1)
    assert torch.allclose(hmm.bit_marginals(obs), conditional_from_joint(hmm, p, obs), atol=1e-12)


@pytest.mark.parametrize("noise", [0.0, 0.01, 0.2])
def test_one_by_one_decoding_is_exact(noise: float) -> None:
    hmm = BlockHMM(noise=noise, **MODEL)
    p, q = hmm.joint(), decoder_distribution(hmm, 1)
    assert np.abs(p - q).max() < 1e-12
    assert incoherence(hmm, q) == pytest.approx(noise, abs=1e-12)


@pytest.mark.parametrize("k", [2, 4])
def test_fixed_partition_forward_kl_is_parallelbench_bound(k: int) -> None:
    # Theorem 1 (ParallelBench) with equality: KL(p‖q) = L_T for the left-to-right partition.
    hmm = BlockHMM(noise=0.05, **MODEL)
    p = hmm.joint()
    q = decoder_distribution(hmm, k, order="left_to_right")
    joint = th.Joint(hmm.grid().numpy(), p)
    assert kl_bits(p, q) == pytest.approx(th.bound_lt(joint, th.chunks(hmm.num_bits, k)), abs=1e-10)


def test_reverse_kl_dwarfs_forward_kl_and_incoherence_grows_with_parallelism() -> None:
    rows = sweep(noises=(0.0, 0.001, 0.01, 0.2), ks=(1, 2, 3, 4, 8), **MODEL)
    by = {(r["noise"], r["k"]): r for r in rows}
    for noise in (0.0, 0.001, 0.01, 0.2):
        rates = [by[noise, k]["incoherent"] for k in (1, 2, 3, 4, 8)]
        assert rates[0] == pytest.approx(noise, abs=1e-12)
        assert all(b > a + 0.01 for a, b in pairwise(rates)), rates
        assert rates[-1] == pytest.approx(0.5, abs=1e-12)  # one step: half the blocks (symmetric biases)
        fwd = [by[noise, k]["forward_kl"] for k in (2, 3, 4, 8)]
        assert all(b > a for a, b in pairwise(fwd))  # more parallel -> more information lost
    for k in (2, 3, 4, 8):
        assert math.isinf(by[0.0, k]["reverse_kl"]) and by[0.0, k]["forward_kl"] < 3.0
        assert by[0.001, k]["reverse_kl"] > 3 * by[0.001, k]["forward_kl"]
        assert by[0.01, k]["reverse_kl"] > 1.5 * by[0.01, k]["forward_kl"]
    # As the parity noise vanishes, reverse KL grows without bound while forward KL stays bounded.
    assert by[0.001, 8]["reverse_kl"] > by[0.01, 8]["reverse_kl"] > by[0.2, 8]["reverse_kl"]
    assert by[0.001, 8]["forward_kl"] < by[0.0, 8]["forward_kl"] + 1e-9


@pytest.mark.parametrize(("k", "order"), [(2, "random"), (4, "random"), (2, "left_to_right")])
def test_engine_samples_the_exact_decoder_distribution(k: int, order: str) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    hmm = BlockHMM(noise=0.01, **MODEL)
    count = 4000
    bits = engine_samples(hmm, k, count, seed=k, score=order)
    q = decoder_distribution(hmm, k, order)
    rates = odd_blocks(hmm, bits)
    assert abs(rates.mean().item() - incoherence(hmm, q)) <= 3 * rates.std().item() / math.sqrt(count)
    codes = (bits * 2 ** torch.arange(hmm.num_bits - 1, -1, -1)).sum(1).numpy()
    observed = np.bincount(codes, minlength=len(q))
    expected = q * count
    big = expected >= 5  # pool the rare sequences into one cell, as chi-square needs
    obs_cells, exp_cells = observed[big], expected[big]
    if (~big).any():
        obs_cells, exp_cells = np.append(obs_cells, observed[~big].sum()), np.append(exp_cells, expected[~big].sum())
    assert scipy_stats.chisquare(obs_cells, exp_cells).pvalue > 1e-3


def test_validation_errors() -> None:
    with pytest.raises(ValueError, match="at most 16 bits"):
        BlockHMM(num_blocks=5, block_size=4)
    with pytest.raises(ValueError, match=">= 2 bits"):
        BlockHMM(block_size=1)
    with pytest.raises(ValueError, match="bias"):
        BlockHMM(bias=(0.0, 0.5))
    with pytest.raises(ValueError, match="k=9 is invalid"):
        decoder_distribution(BlockHMM(**MODEL), 9)
