"""Information-theoretic quantities of ParallelBench §4, computed from an oracle's exact joint.

Nothing here types in a closed form: the joint P(Y|X) is enumerated through the oracle denoiser's
own conditionals (chain rule over the item positions, ``noise=0``), and

* C(Y|X) = Σ_i H(y_i|X) − H(Y|X), the conditional total correlation (paper §3, Eq. 1);
* L_T({S_t}) = Σ_t E_{S<t ~ P}[C(S_t | X, S<t)], the T-step lower bound of Theorem 1 (Eq. 2);
* the factorized T-step decoder q(Y) = Π_t Π_{j ∈ S_t} P(y_j | X, S<t) with exact conditionals,
  whose KL(P‖q) equals L_T (Theorem 1's equality case, Appendix A.1, Eq. 11-15) and whose mass on
  valid answers is its accuracy at temperature 1 (Eq. 5 for Shuffle)

are computed from it in float64. The tests compare them with the paper's closed forms (Eq. 3, 4,
the Shuffle L_{n/2} = log2(n!!/(n−1)!!) and Eq. 5). Entropies are in bits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from lm_eval_mdlm.decoding.loop import build_canvas
from lm_eval_mdlm.oracle.list_ops import ListOpOracle, OracleError

MAX_OUTCOMES = 200_000
_MIN_PROB = 1e-12  # probabilities below this are the oracle's exact zeros (exp(-1e4) = 0.0)


@dataclass(frozen=True)
class Joint:
    """P(Y|X) on its support: ``outcomes`` (K, n) token ids of the n item positions, ``probs`` (K,)."""

    outcomes: np.ndarray
    probs: np.ndarray

    @property
    def n(self) -> int:
        return self.outcomes.shape[1]


def _slots(oracle: ListOpOracle, n: int) -> list[int]:
    return [1 + 2 * j for j in range(n)] if oracle.layout == "list" else list(range(n))


def slot_conditionals(oracle: ListOpOracle, prompt: Sequence[int], partial: np.ndarray) -> np.ndarray:
    """P(y_j = v | X, committed items) from the oracle's forward: (K, n, V) for ``partial`` (K, n)
    item token ids, -1 where the position is still masked."""
    n = partial.shape[1]
    slots = torch.tensor(_slots(oracle, n))
    ids, attention = build_canvas([list(prompt)], oracle.answer_length(n), oracle.mask_id, oracle.pad_id,
                                  torch.device("cpu"))
    start = ids.shape[1] - oracle.answer_length(n)
    ids = ids.expand(len(partial), -1).clone()
    fill = torch.from_numpy(partial).long()
    ids[:, start + slots] = torch.where(fill >= 0, fill, oracle.mask_id)
    logits = oracle(ids, attention.expand(len(partial), -1))
    return torch.softmax(logits[:, start + slots].double(), dim=-1).numpy()


def exact_joint(oracle: ListOpOracle, prompt: Sequence[int], n: int) -> Joint:
    """Enumerate P(Y|X) by the chain rule over positions 0..n-1, keeping only positive branches."""
    if oracle.noise != 0:
        raise OracleError("exact_joint needs an oracle built with noise=0: its tie-breaking noise "
                          "perturbs the probabilities (load it with oracle:<op>?noise=0).")
    outcomes = np.full((1, n), -1, dtype=np.int64)
    probs = np.ones(1)
    for j in range(n):
        cond = slot_conditionals(oracle, prompt, outcomes)[:, j]
        rows, tokens = np.nonzero(cond > _MIN_PROB)
        if len(rows) > MAX_OUTCOMES:
            raise OracleError(f"the joint has more than {MAX_OUTCOMES} outcomes at position {j}; use a "
                              "smaller n (Shuffle has n! outcomes: n <= 8).")
        outcomes = outcomes[rows].copy()
        outcomes[:, j] = tokens
        probs = probs[rows] * cond[rows, tokens]
    if not abs(probs.sum() - 1) < 1e-9:
        raise OracleError(f"the oracle's conditionals do not chain to a distribution (mass {probs.sum()}).")
    return Joint(outcomes, probs)


def entropy(joint: Joint, positions: Sequence[int]) -> float:
    """H(y_S | X) in bits for the positions S (0 for the empty set)."""
    positions = sorted(set(positions))
    if not positions:
        return 0.0
    _, inverse = np.unique(joint.outcomes[:, positions], axis=0, return_inverse=True)
    mass = np.bincount(inverse.ravel(), weights=joint.probs)
    mass = mass[mass > 0]
    return float(-(mass * np.log2(mass)).sum())


def total_correlation(joint: Joint, positions: Sequence[int] | None = None, given: Sequence[int] = ()) -> float:
    """E_{y_given ~ P}[C(y_S | X, y_given)] = Σ_{j∈S} H(y_j | X, given) − H(y_S | X, given), bits.

    With the defaults, C(Y|X) of the whole answer (paper Eq. 1).
    """
    positions = list(range(joint.n)) if positions is None else list(positions)
    base = entropy(joint, given)
    singles = sum(entropy(joint, [*given, j]) - base for j in positions)
    return singles - (entropy(joint, [*given, *positions]) - base)


def check_partition(partition: Sequence[Sequence[int]], n: int) -> list[list[int]]:
    """The partition as lists; an error unless its sets are disjoint, non-empty and cover 0..n-1."""
    sets = [list(s) for s in partition]
    flat = [j for s in sets for j in s]
    if any(not s for s in sets) or sorted(flat) != list(range(n)):
        raise OracleError(f"partition {sets} must split positions 0..{n - 1} into disjoint non-empty "
                          "sets, one per decoding step.")
    return sets


def bound_lt(joint: Joint, partition: Sequence[Sequence[int]]) -> float:
    """L_T({S_t}) = Σ_t E_{S<t}[C(S_t | X, S<t)] (ParallelBench Theorem 1, Eq. 2), bits."""
    sets = check_partition(partition, joint.n)
    total, before = 0.0, []
    for step in sets:
        total += total_correlation(joint, step, given=before)
        before = before + step
    return total


def chunks(n: int, k: int) -> list[list[int]]:
    """Left-to-right steps of k positions (the last takes the remainder): top-k's partition."""
    return [list(range(s, min(s + k, n))) for s in range(0, n, k)]


def factorized_decoder(oracle: ListOpOracle, prompt: Sequence[int], joint: Joint,
                       partition: Sequence[Sequence[int]]) -> np.ndarray:
    """q(y) on P's support for the T-step decoder that samples each S_t from the product of the
    oracle's exact marginals given S<t (the model of Theorem 1 at its optimum)."""
    sets = check_partition(partition, joint.n)
    q = np.ones(len(joint.probs))
    before: list[int] = []
    rows = np.arange(len(q))
    for step in sets:
        partial = np.full_like(joint.outcomes, -1)
        partial[:, before] = joint.outcomes[:, before]
        cond = slot_conditionals(oracle, prompt, partial)
        for j in step:
            q *= cond[rows, j, joint.outcomes[:, j]]
        before = before + step
    return q


def forward_kl(joint: Joint, q: np.ndarray) -> float:
    """KL(P‖q) in bits over P's support."""
    return float((joint.probs * (np.log2(joint.probs) - np.log2(q))).sum())
