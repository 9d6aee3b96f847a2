"""C(Y|X) and the T-step bound L_T computed from the oracles' exact joints vs ParallelBench §4.1.

The joint is enumerated through the oracle denoiser's own forward (chain rule, no tie noise); the
closed forms typed here are the paper's and are never used to compute the measured side.
"""

from __future__ import annotations

import math
import random

import pytest

from lm_eval_mdlm.oracle import OracleError, load_oracle
from lm_eval_mdlm.oracle import theory as th
from research.oracle_experiments import shuffle_topk
from lm_eval_mdlm.oracle.vocab import item_names


def double_factorial(n: int) -> int:
    return math.prod(range(n, 0, -2))


def setup(op: str, n: int, layout: str = "bare"):
    model = load_oracle(f"oracle:{op}?noise=0&items=12&layout={layout}")
    items = list(item_names(12)[:n])
    prompt = model.prompt_ids(items, word="L", index=n // 2)
    return model, prompt, th.exact_joint(model, prompt, n)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_replace_random_total_correlation_eq3(n: int) -> None:
    _, _, joint = setup("replace_random", n)
    assert len(joint.probs) == n
    assert th.total_correlation(joint) == pytest.approx((n - 1) * (math.log2(n) - math.log2(n - 1)), abs=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_shuffle_total_correlation_eq4(n: int) -> None:
    _, _, joint = setup("shuffle", n)
    assert len(joint.probs) == math.factorial(n)
    assert th.total_correlation(joint) == pytest.approx(n * math.log2(n) - math.log2(math.factorial(n)), abs=1e-10)


@pytest.mark.parametrize("op", ["copy", "replace_index"])
@pytest.mark.parametrize("layout", ["bare", "list"])
def test_copy_and_replace_index_have_no_dependencies(op: str, layout: str) -> None:
    _, _, joint = setup(op, 6, layout)
    assert len(joint.probs) == 1
    assert th.total_correlation(joint) == 0.0
    assert th.bound_lt(joint, [list(range(6))]) == 0.0


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6, 7])
def test_shuffle_two_per_step_bound_is_log_double_factorial_ratio(n: int) -> None:
    _, _, joint = setup("shuffle", n)
    expected = math.log2(double_factorial(n) / double_factorial(n - 1))
    assert th.bound_lt(joint, th.chunks(n, 2)) == pytest.approx(expected, abs=1e-10)


def test_shuffle_bound_for_any_partition() -> None:
    # §4.1: L_T = Σ_t |S_t| log2(k_t) − log2(n!), k_t = items left before step t; any sets, any order.
    n = 6
    _, _, joint = setup("shuffle", n)
    rng = random.Random(0)
    for _ in range(6):
        order = rng.sample(range(n), n)
        cuts = sorted(rng.sample(range(1, n), rng.randint(0, n - 1)))
        partition = [order[a:b] for a, b in zip([0, *cuts], [*cuts, n])]
        left, expected = n, -math.log2(math.factorial(n))
        for step in partition:
            expected += len(step) * math.log2(left)
            left -= len(step)
        assert th.bound_lt(joint, partition) == pytest.approx(expected, abs=1e-10), partition


@pytest.mark.parametrize("op", ["replace_random", "shuffle"])
def test_remark1_boundaries_and_theorem2_monotonicity(op: str) -> None:
    n = 6
    _, _, joint = setup(op, n)
    assert th.bound_lt(joint, [list(range(n))]) == pytest.approx(th.total_correlation(joint), abs=1e-12)
    assert th.bound_lt(joint, [[j] for j in range(n)]) == pytest.approx(0.0, abs=1e-12)
    rng = random.Random(1)
    partition = [list(range(n))]
    previous = th.bound_lt(joint, partition)
    while len(partition) < n:  # split a random set: the bound can only go down (Lemma 1)
        i = rng.choice([i for i, s in enumerate(partition) if len(s) > 1])
        cut = rng.randint(1, len(partition[i]) - 1)
        partition[i:i + 1] = [partition[i][:cut], partition[i][cut:]]
        current = th.bound_lt(joint, partition)
        assert current <= previous + 1e-12
        previous = current


@pytest.mark.parametrize(("op", "n", "k"), [("shuffle", 5, 2), ("shuffle", 6, 3), ("replace_random", 6, 2),
                                            ("replace_random", 5, 5), ("shuffle", 4, 4)])
def test_theorem1_equality_for_the_exact_factorized_decoder(op: str, n: int, k: int) -> None:
    # With exact marginals per step, KL(P‖q) equals L_T (equality case of Theorem 1).
    model, prompt, joint = setup(op, n)
    partition = th.chunks(n, k)
    q = th.factorized_decoder(model, prompt, joint, partition)
    assert th.forward_kl(joint, q) == pytest.approx(th.bound_lt(joint, partition), abs=1e-10)
    if op == "shuffle":  # its mass on valid answers is Eq. 5's accuracy at temperature 1
        assert q.sum() == pytest.approx(shuffle_topk(n, k), abs=1e-12)


def test_replace_random_one_step_mass_is_the_papers_accuracy() -> None:
    n = 7
    model, prompt, joint = setup("replace_random", n)
    q = th.factorized_decoder(model, prompt, joint, [list(range(n))])
    assert q.sum() == pytest.approx(((n - 1) / n) ** (n - 1), abs=1e-12)


def test_errors() -> None:
    model = load_oracle("oracle:shuffle?items=12")
    with pytest.raises(OracleError, match="noise=0"):
        th.exact_joint(model, model.prompt_ids(["A", "B"]), 2)
    _, _, joint = setup("shuffle", 3)
    with pytest.raises(OracleError, match="disjoint non-empty"):
        th.bound_lt(joint, [[0, 1], [1, 2]])
