"""``factor_rule=formula|fastdllm``: the paper's factor bound vs Fast-dLLM's code (ParallelBench's runs).

Fast-dLLM's selector (``get_transfer_index_dynamic``): with the n masked candidates' confidences sorted
descending, rank r >= 2 passes when c_(r) >= 1 - factor / (r + 1) (rank 1 always passes); the ranks
before the first failure are committed, but when the first failure is the last rank, all n are.
The expected index sets below are derived by hand from that rule.
"""

from __future__ import annotations

import pytest
import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.rules import select_factor
from tests.test_engine import MASK, PAD, FixedLogits
from tests.test_samplers import PROMPTS, run


def _select(confidences: list[float], factor: float, rule: str, masked: list[bool] | None = None) -> list[int]:
    scores = torch.tensor([confidences], dtype=torch.float64)
    candidates = torch.tensor([masked or [True] * len(confidences)])
    return torch.nonzero(select_factor(scores, candidates, factor, rule)[0]).flatten().tolist()


@pytest.mark.parametrize("confidences, factor, formula, fastdllm", [
    # bounds 0.667, 0.75, 0.8 for ranks 2-4: only rank 4 fails, so Fast-dLLM commits all four;
    # the formula stops at 3 ((3 + 1)(1 - 0.85) = 0.6 < 1, (4 + 1)(1 - 0.1) >= 1)
    ([0.1, 0.95, 0.85, 0.9], 1.0, [1, 2, 3], [0, 1, 2, 3]),
    # two candidates: rank 2 fails (0.1 < 0.667) and is the last one, so both commit
    ([0.6, 0.1], 1.0, [0], [0, 1]),
    # the first failure is rank 3 of 5: both rules commit the two best
    ([0.3, 0.95, 0.5, 0.9, 0.4], 1.0, [1, 3], [1, 3]),
    # c_(3) = 0.875 equals Fast-dLLM's bound 1 - 0.5 / 4 (passes: the code fails only on <), while
    # (3 + 1)(1 - 0.875) = 0.5 is not < 0.5; rank 4 (0.1) fails and is not the last of five
    ([0.99, 0.9, 0.875, 0.1, 0.05], 0.5, [0, 1], [0, 1, 2]),
    # one candidate: committed by both
    ([0.2], 1.0, [0], [0]),
    # everything confident: all of them
    ([0.99, 0.995, 0.999], 1.0, [0, 1, 2], [0, 1, 2]),
])
def test_rules_on_constructed_confidences(confidences, factor, formula, fastdllm):
    assert _select(confidences, factor, "formula") == formula
    assert _select(confidences, factor, "fastdllm") == fastdllm


def test_only_masked_candidates_count():
    # Three candidates out of five positions; among them only the last rank (0.2) fails: all three commit.
    masked = [True, False, True, True, False]
    assert _select([0.95, 0.99, 0.9, 0.2, 0.99], 1.0, "fastdllm", masked) == [0, 2, 3]
    assert _select([0.95, 0.99, 0.9, 0.2, 0.99], 1.0, "formula", masked) == [0, 2]


def test_fastdllm_bound_is_computed_as_python_floats():
    # 1 - 3 / 5 is 0.4 in Python floats; torch's scalar / tensor would give 0.3999999999999999 and pass this rank.
    confidences = [0.9, 0.8, 0.7, 0.3999999999999999, 0.39, 0.38]
    assert _select(confidences, 3.0, "fastdllm") == [0, 1, 2]


def test_rows_are_independent_of_the_batch():
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(16, 12, generator=gen, dtype=torch.float64) ** 0.2
    candidates = torch.rand(16, 12, generator=gen) < 0.7
    together = select_factor(scores, candidates, 1.0, "fastdllm")
    alone = torch.cat([select_factor(scores[i:i + 1], candidates[i:i + 1], 1.0, "fastdllm") for i in range(16)])
    assert torch.equal(together, alone) and not (together & ~candidates).any()


def _steps_by_hand(confidences: list[float], factor: float) -> int:
    """Steps Fast-dLLM's rule takes on a model whose confidences never change (one block)."""
    left, steps = sorted(confidences, reverse=True), 0
    while left:
        first_fail = next((r for r in range(1, len(left)) if left[r] < 1 - factor / (r + 2)), len(left))
        take = len(left) if first_fail >= len(left) - 1 else first_fail
        left, steps = left[take:], steps + 1
    return steps


def test_engine_uses_the_rule_and_matches_steps_by_hand():
    length, factor = 12, 2.0
    model = FixedLogits(length, scale=2.0)
    confidences = torch.softmax(model.table.to(torch.float64), -1).max(-1).values.tolist()
    fast = run(DecodeConfig(strategy="factor", factor=factor, factor_rule="fastdllm"), length)
    formula = run(DecodeConfig(strategy="factor", factor=factor), length)
    assert fast.nfe.tolist() == [_steps_by_hand(confidences, factor)] * len(PROMPTS)
    assert fast.nfe[0] < formula.nfe[0]  # the last-rank branch commits more per step here
    assert MASK not in fast.answer.tolist()[0] and PAD not in fast.answer.tolist()[0]


def test_factor_rule_knob_is_validated():
    assert DecodeConfig().factor_rule == "formula"
    assert DecodeConfig().replace(factor_rule="fastdllm").factor_rule == "fastdllm"
    with pytest.raises(ConfigError, match="factor_rule='fast' is unknown; valid values: formula, fastdllm"):
        DecodeConfig(strategy="factor", factor_rule="fast")
