"""A Block-HMM with a parity constraint: the controlled experiment of arXiv 2602.00286 (§5, "Block-HMM
parity validation"), with an exactly known joint, so the *exact* distribution of mean-field parallel
decoding can be compared with the data.

Model (our concrete instance of the paper's setting). Hidden states z_1..z_M (one per block) form a
Markov chain (z_1 uniform; z_{m+1} = z_m w.p. ``stay``). Block m holds b bits; given z_m its bits
are i.i.d. Bernoulli(``bias[z_m]``) *conditioned on the block's parity*: even w.p. 1 − η, odd w.p. η
(η = ``noise``). An odd block is *incoherent*: the data has a fraction η of them. The parity couples
all bits of a block, so a factorized (mean-field) step that fills two or more bits of one block
ignores that coupling, while one-by-one decoding with exact conditionals samples the data exactly.

Why both KLs: forward KL(p‖q) averages the information the factorized decoder q loses (bounded by
the total correlation, ≤ about 1 bit per block here), reverse KL(q‖p) weighs what q *generates*
and explodes when q puts mass where p has almost none: ∞ at η = 0 (2602.00286 §5.2, Fig. 2).

Decoding, exactly as the engine does it with ``score=random`` top-k at temperature 1: each step
picks k of the still-masked positions uniformly at random and samples each from its exact marginal
given what is already decoded. :func:`decoder_distribution` computes the resulting distribution q
over all 2^N sequences by dynamic programming over (decoded set, decoded values), so the table's
KLs and incoherence rates are exact; :class:`BlockHMMDenoiser` runs the same model through the
engine, and the tests check that the engine's samples match q.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch

NEG = -1e4
MAX_BITS = 16


@dataclass(frozen=True)
class BlockHMM:
    """M blocks of b bits; see the module docstring for the generative process."""

    num_blocks: int = 3
    block_size: int = 4
    noise: float = 0.05
    stay: float = 0.9
    bias: tuple[float, ...] = (0.3, 0.7)

    def __post_init__(self) -> None:
        if self.num_blocks < 1 or self.block_size < 2:
            raise ValueError(f"num_blocks={self.num_blocks}, block_size={self.block_size}: need >= 1 block of "
                             ">= 2 bits (a parity constraint needs two bits to couple).")
        if self.num_blocks * self.block_size > MAX_BITS:
            raise ValueError(f"{self.num_blocks} x {self.block_size} = {self.num_blocks * self.block_size} bits: "
                             f"the joint is enumerated, so at most {MAX_BITS} bits; use fewer or smaller blocks.")
        if not 0.0 <= self.noise <= 1.0 or not 0.0 <= self.stay <= 1.0:
            raise ValueError(f"noise={self.noise}, stay={self.stay}: both are probabilities in [0, 1].")
        if len(self.bias) < 1 or not all(0.0 < b < 1.0 for b in self.bias):
            raise ValueError(f"bias={self.bias}: one P(bit = 1 | state) per hidden state, each in (0, 1).")

    @property
    def num_bits(self) -> int:
        return self.num_blocks * self.block_size

    @cached_property
    def configs(self) -> torch.Tensor:
        """(2^b, b) all bit patterns of a block; row c spells c in binary, most significant first."""
        b = self.block_size
        return (torch.arange(2 ** b)[:, None] >> torch.arange(b - 1, -1, -1)) & 1

    @cached_property
    def emission(self) -> torch.Tensor:
        """(S, 2^b) P(block = c | z): Bernoulli product renormalized within each parity class."""
        bits = self.configs.to(torch.float64)
        theta = torch.tensor(self.bias, dtype=torch.float64)[:, None, None]
        prod = (theta ** bits * (1 - theta) ** (1 - bits)).prod(-1)
        odd = self.configs.sum(1) % 2 == 1
        z_even = prod[:, ~odd].sum(1, keepdim=True)
        z_odd = prod[:, odd].sum(1, keepdim=True)
        return torch.where(odd, self.noise * prod / z_odd, (1 - self.noise) * prod / z_even)

    @cached_property
    def transition(self) -> torch.Tensor:
        states = len(self.bias)
        if states == 1:
            return torch.ones(1, 1, dtype=torch.float64)
        t = torch.full((states, states), (1 - self.stay) / (states - 1), dtype=torch.float64)
        return t.fill_diagonal_(self.stay)

    def grid(self) -> torch.Tensor:
        """(2^N, N) every sequence; row x spells x in binary, most significant bit first."""
        n = self.num_bits
        return (torch.arange(2 ** n)[:, None] >> torch.arange(n - 1, -1, -1)) & 1

    def _block_index(self, bits: torch.Tensor) -> torch.Tensor:
        weights = 2 ** torch.arange(self.block_size - 1, -1, -1)
        return (bits.view(*bits.shape[:-1], self.num_blocks, self.block_size) * weights).sum(-1)

    def joint(self) -> np.ndarray:
        """p(x) for all 2^N sequences, by the forward algorithm over blocks (float64)."""
        blocks = self._block_index(self.grid())
        alpha = torch.full((blocks.shape[0], len(self.bias)), 1 / len(self.bias), dtype=torch.float64)
        for m in range(self.num_blocks):
            if m:
                alpha = alpha @ self.transition
            alpha = alpha * self.emission[:, blocks[:, m]].T
        return alpha.sum(1).numpy()

    def bit_marginals(self, obs: torch.Tensor) -> torch.Tensor:
        """P(x_i = 1 | observed bits) for every position; ``obs`` (A, N) holds 0/1, or -1 if masked.

        Forward-backward over blocks: a block's evidence is the total emission mass of the configs
        consistent with its observed bits. Evidence of probability 0 under every state (only an
        odd complete block when η = 0, which parallel decoding can produce) is ignored, so the
        conditionals stay defined on the states such decoders reach.
        """
        rows, m_blocks = obs.shape[0], self.num_blocks
        ob = obs.view(rows, m_blocks, 1, self.block_size)
        consistent = ((ob < 0) | (ob == self.configs)).all(-1).to(torch.float64)  # (A, M, C)
        evidence = consistent @ self.emission.T  # (A, M, S)
        evidence = torch.where(evidence.sum(-1, keepdim=True) > 0, evidence, torch.ones_like(evidence))
        states = len(self.bias)
        fwd = [torch.full((rows, states), 1 / states, dtype=torch.float64)]
        for m in range(m_blocks - 1):
            f = (fwd[-1] * evidence[:, m]) @ self.transition
            fwd.append(f / f.sum(-1, keepdim=True))
        bwd = [torch.ones(rows, states, dtype=torch.float64)]
        for m in range(m_blocks - 1, 0, -1):
            g = (evidence[:, m] * bwd[0]) @ self.transition.T
            bwd.insert(0, g / g.sum(-1, keepdim=True))
        prior = torch.stack([f * g for f, g in zip(fwd, bwd)], 1)  # (A, M, S), block's own evidence excluded
        post = consistent * (prior @ self.emission)  # (A, M, C)
        post = post / post.sum(-1, keepdim=True).clamp_min(1e-300)
        ones = (post @ self.configs.to(torch.float64)).reshape(rows, -1)
        return torch.where(obs >= 0, obs.to(torch.float64), ones)


class BlockHMMDenoiser:
    """The Block-HMM as an engine denoiser: prompt ``[<bos>]``, answer = the N bits."""

    family = "block_hmm"
    PAD, MASK, EOS, BOS, ZERO, ONE = range(6)
    VOCAB = 6

    def __init__(self, hmm: BlockHMM) -> None:
        self.hmm = hmm
        self.mask_id, self.pad_id, self.eos_ids, self.max_length = self.MASK, self.PAD, (self.EOS,), 1 << 16

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        n = self.hmm.num_bits
        answer = input_ids[:, -n:]
        obs = torch.where(answer == self.ONE, 1, torch.where(answer == self.ZERO, 0, -1))
        p1 = self.hmm.bit_marginals(obs)
        logits = torch.zeros(*input_ids.shape, self.VOCAB, dtype=torch.float64)
        part = torch.full((input_ids.shape[0], n, self.VOCAB), NEG, dtype=torch.float64)
        part[..., self.ONE] = torch.where(p1 > 0, p1.clamp_min(1e-300).log(), NEG)
        part[..., self.ZERO] = torch.where(p1 < 1, (1 - p1).clamp_min(1e-300).log(), NEG)
        logits[:, -n:] = part
        return logits

    def bits(self, answer: torch.Tensor) -> torch.Tensor:
        """Decoded answer tokens (A, N) -> bits (A, N); an error if a position is not a bit."""
        if not bool(((answer == self.ZERO) | (answer == self.ONE)).all()):
            raise ValueError("a decoded answer holds a token that is not a bit; answers must be N tokens long.")
        return (answer == self.ONE).long()


def decoder_distribution(hmm: BlockHMM, k: int, order: str = "random") -> np.ndarray:
    """Exact q(x) over all 2^N sequences of top-k parallel decoding with exact marginals (T = 1).

    ``order="random"``: each step decodes k uniformly chosen masked positions (the engine's
    ``score=random``); ``"left_to_right"``: the k leftmost. k = 1 gives q = p (exact chain rule).
    """
    if order not in ("random", "left_to_right"):
        raise ValueError(f"order={order!r} is unknown; valid: random, left_to_right.")
    n = hmm.num_bits
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is invalid: decode 1..{n} positions per step.")
    grid = hmm.grid()
    codes = torch.arange(len(grid))  # row x of the grid spells x
    bit_value = [1 << (n - 1 - i) for i in range(n)]
    mass: dict[int, np.ndarray] = {0: np.ones(len(grid))}
    for size in range(0, n, k):
        for decoded in [d for d in list(mass) if bin(d).count("1") == size]:
            f = mass.pop(decoded)
            on = [bool(decoded & bit_value[i]) for i in range(n)]
            # The marginals depend on the decoded bits only: evaluate them once per pattern.
            patterns, inverse = torch.unique(codes & decoded, return_inverse=True)
            p1 = hmm.bit_marginals(torch.where(torch.tensor(on), grid[patterns], -1))[inverse]
            p_bit = torch.where(grid == 1, p1, 1 - p1).numpy()  # P(x_i | decoded part of x)
            free = [i for i in range(n) if not on[i]]
            take = min(k, len(free))
            choices = list(itertools.combinations(free, take)) if order == "random" else [tuple(free[:take])]
            f = f / len(choices)
            for chosen in choices:
                nxt = decoded + sum(bit_value[i] for i in chosen)
                step = f * p_bit[:, chosen].prod(1)
                if nxt in mass:
                    mass[nxt] += step
                else:
                    mass[nxt] = step
    (q,) = mass.values()
    return q


def kl_bits(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p‖q) in bits; ∞ when p has mass where q has none."""
    support = p > 0
    if bool((q[support] <= 0).any()):
        return math.inf
    value = float((p[support] * (np.log2(p[support]) - np.log2(q[support]))).sum())
    return max(value, 0.0)  # KL >= 0; clip float round-off of exact zeros


def incoherence(hmm: BlockHMM, dist: np.ndarray) -> float:
    """Expected fraction of odd-parity (incoherent) blocks under ``dist`` over all 2^N sequences."""
    odd = (hmm.grid().view(-1, hmm.num_blocks, hmm.block_size).sum(-1) % 2).double().mean(1)
    return float((torch.from_numpy(dist) * odd).sum())


def sweep(noises: tuple[float, ...] = (0.0, 0.01, 0.05, 0.2), ks: tuple[int, ...] | None = None,
          order: str = "random", **model: object) -> list[dict]:
    """One row per (η, k): tokens per step, forward KL(p‖q), reverse KL(q‖p) (bits per sequence)
    and the incoherent-block rates of the decoder and of the data."""
    rows = []
    for noise in noises:
        hmm = BlockHMM(noise=noise, **model)  # type: ignore[arg-type]
        p = hmm.joint()
        for k in ks or tuple(sorted({1, 2, hmm.block_size, hmm.num_bits // 2, hmm.num_bits})):
            q = decoder_distribution(hmm, k, order)
            rows.append({"noise": noise, "k": k, "steps": math.ceil(hmm.num_bits / k),
                         "forward_kl": kl_bits(p, q), "reverse_kl": kl_bits(q, p),
                         "incoherent": incoherence(hmm, q), "incoherent_data": incoherence(hmm, p)})
    return rows


def format_table(rows: list[dict]) -> str:
    lines = [f"{'noise':>6} {'k':>3} {'steps':>5} {'fwd KL':>8} {'rev KL':>8} {'incoh.':>7} {'data':>6}"]
    for r in rows:
        lines.append(f"{r['noise']:6.3f} {r['k']:3d} {r['steps']:5d} {r['forward_kl']:8.4f} {r['reverse_kl']:8.4f} "
                     f"{r['incoherent']:7.4f} {r['incoherent_data']:6.4f}")
    return "\n".join(lines)


def engine_samples(hmm: BlockHMM, k: int, count: int, seed: int = 0, score: str = "random") -> torch.Tensor:
    """(count, N) bits decoded by the real engine (top-k, ``score``, temperature 1) on the Block-HMM."""
    from lm_eval_mdlm.config import DecodeConfig
    from lm_eval_mdlm.decoding.loop import denoise
    from lm_eval_mdlm.decoding.noise import row_keys
    from lm_eval_mdlm.decoding.schedule import make_schedule

    model = BlockHMMDenoiser(hmm)
    cfg = DecodeConfig(k=k, score=score, temperature=1.0, seed=seed)
    prompts = [[model.BOS]] * count
    out = denoise(model, prompts, cfg, make_schedule(cfg, hmm.num_bits), mask_id=model.MASK, pad_id=model.PAD,
                  eos_ids=model.eos_ids, keys=row_keys(prompts, seed), device=torch.device("cpu"))
    return model.bits(out.answer)


def odd_blocks(hmm: BlockHMM, bits: torch.Tensor) -> torch.Tensor:
    """(A,) fraction of odd-parity blocks in each decoded sequence."""
    return (bits.view(-1, hmm.num_blocks, hmm.block_size).sum(-1) % 2).double().mean(1)


def main(argv: list[str] | None = None) -> None:
    """Print the exact sweep (and, with ``--engine-samples``, the engine's measured incoherence)."""
    import argparse

    parser = argparse.ArgumentParser(description="Block-HMM parity experiment (arXiv 2602.00286): exact "
                                     "forward/reverse KL and incoherent-block rate of top-k mean-field decoding.")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=4)
    parser.add_argument("--noise", type=float, nargs="+", default=[0.0, 0.001, 0.01, 0.05, 0.2])
    parser.add_argument("--k", type=int, nargs="+", default=None, help="tokens per step (default: a spread)")
    parser.add_argument("--order", choices=("random", "left_to_right"), default="random")
    parser.add_argument("--engine-samples", type=int, default=0,
                        help="also decode this many sequences with the engine (score=random and confidence)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = {"num_blocks": args.blocks, "block_size": args.block_size}
    rows = sweep(tuple(args.noise), tuple(args.k) if args.k else None, args.order, **model)
    print(f"Block-HMM: {args.blocks} blocks x {args.block_size} bits, stay={BlockHMM.stay}, bias={BlockHMM.bias}; "
          f"order={args.order}, temperature 1; KL in bits per sequence, exact")
    table = format_table(rows)
    if args.engine_samples:
        lines = table.splitlines()
        lines[0] += f" {'eng.rand':>8} {'eng.conf':>8}"
        for i, r in enumerate(rows, 1):
            hmm = BlockHMM(noise=r["noise"], **model)
            for score in ("random", "confidence"):
                rate = odd_blocks(hmm, engine_samples(hmm, r["k"], args.engine_samples, score=score)).mean()
                lines[i] += f" {float(rate):8.4f}"
        table = "\n".join(lines)
    print(table)


if __name__ == "__main__":
    main()
