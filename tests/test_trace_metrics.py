"""Per-sample decoding metrics: AFP, Kendall's tau-b, AR-ness, answer length."""

from __future__ import annotations

import math
import random

import pytest
from scipy.stats import kendalltau

from lm_eval_mdlm.metrics.decoding import (
    afp,
    ar_ness,
    answer_length,
    block_kendall_tau,
    kendall_tau_b,
    trace_metrics,
)
from lm_eval_mdlm.traces import TracedStr, metric_values, nanmean, summarize, tidy_results


@pytest.mark.parametrize("seed", range(5))
def test_kendall_tau_b_matches_scipy_with_ties(seed: int) -> None:
    rng = random.Random(seed)
    steps = [rng.randint(1, 6) for _ in range(30)]
    assert kendall_tau_b(range(30), steps) == pytest.approx(kendalltau(range(30), steps).statistic)


def test_kendall_tau_extremes_and_undefined() -> None:
    assert kendall_tau_b([0, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(1.0)
    assert kendall_tau_b([0, 1, 2, 3], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert kendall_tau_b([0, 1, 2], [5, 5, 5]) is None  # everything in one step
    assert kendall_tau_b([0], [1]) is None


def test_afp_is_tokens_over_distinct_steps() -> None:
    assert afp([1, 1, 2, 2, 2, 5]) == pytest.approx(2.0)
    assert afp([]) is None


def test_answer_length_counts_up_to_and_including_first_eos() -> None:
    assert answer_length([4, 5, 2, 6, 2], eos_ids=(2,)) == 3
    assert answer_length([4, 5, 6], eos_ids=(2,)) == 3


def test_ar_ness_closed_forms() -> None:
    assert ar_ness([1, 2, 3, 4]) == (1.0, 1.0)           # left to right
    assert ar_ness([4, 3, 2, 1]) == (0.0, 0.25)          # right to left: only the last is leftmost
    assert ar_ness([1, 1, 2, 3]) == (None, None)         # two tokens in one step: undefined
    local, global_ = ar_ness([2, 3, 1, 4])               # order: pos 2, 0, 1, 3
    assert local == pytest.approx(1 / 3) and global_ == pytest.approx(3 / 4)  # only 0 -> 1 is adjacent


def test_block_tau_averages_within_blocks() -> None:
    # block 1 left-to-right (tau 1), block 2 right-to-left (tau -1)
    assert block_kendall_tau([1, 2, 3, 6, 5, 4], 3) == pytest.approx(0.0)


def test_trace_metrics_use_the_answer_up_to_eos() -> None:
    m = trace_metrics([7, 8, 2, 9], [2, 1, 1, 0], nfe=2, eos_ids=(2,), block_length=4)
    assert m["answer_tokens"] == 3 and m["afp"] == pytest.approx(1.5)
    assert m["tokens_per_step"] == pytest.approx(1.5) and m["nfe"] == 2
    assert m["kendall_tau"] == pytest.approx(kendalltau([0, 1, 2], [2, 1, 1]).statistic)


def test_traced_str_is_a_str_and_carries_metrics() -> None:
    import pickle

    record = {"task_name": "t", "metrics": {"afp": 2.0, "kendall_tau": None}}
    s = TracedStr("answer", record)
    assert s == "answer" and s.split("w")[0] == "ans"
    assert pickle.loads(pickle.dumps(s)).trace == record
    values = metric_values(s)
    assert values["afp"] == 2.0 and math.isnan(values["kendall_tau"])
    assert all(math.isnan(v) for v in metric_values("plain string").values())
    assert nanmean([1.0, float("nan"), 3.0]) == 2.0


def test_summarize_means_per_task() -> None:
    rows = [{"task_name": "a", "metrics": {"afp": 1.0, "nfe": 4.0}},
            {"task_name": "a", "metrics": {"afp": 3.0, "nfe": None}},
            {"task_name": "b", "metrics": {"afp": 5.0}}]
    summary = summarize(rows)
    assert summary["a"]["afp"] == 2.0 and summary["a"]["nfe"] == 4.0 and summary["a"]["samples"] == 2
    assert summary["b"]["afp"] == 5.0 and summary["b"]["kendall_tau"] is None


def test_tidy_results_drops_undefined_statistics_and_pools_groups_over_defined_samples() -> None:
    """Task a defines tau on 2 of 3 samples, task b on none; AR-ness is undefined everywhere. Nested groups (g
    holds a and h, h holds b) get the mean over defined samples, never NaN, with their count."""
    nan = float("nan")
    taus = {"a": [0.5, None, 1.0], "b": [None, None]}
    records = [{"task_name": t, "metrics": {"kendall_tau": v, "ar_local": None, "nfe": 2.0}}
               for t, values in taus.items() for v in values]
    task_row = {"kendall_tau,none": 0.75, "kendall_tau_stderr,none": "N/A", "ar_local,none": nan, "nfe,none": 2.0}
    results = {"results": {"a": dict(task_row), "b": {**task_row, "kendall_tau,none": nan},
                           "g": {"kendall_tau,none": nan, "kendall_tau_stderr,none": nan, "nfe,none": 2.0},
                           "h": {"kendall_tau,none": nan, "nfe,none": 2.0}},
               "group_subtasks": {"g": ["a", "h"], "h": ["b"]}}
    results["groups"] = {name: results["results"][name] for name in ("g", "h")}
    tidy_results(results, records)
    rows = results["results"]
    assert rows["a"] == {"kendall_tau,none": 0.75, "kendall_tau_stderr,none": "N/A", "kendall_tau_n,none": 2,
                         "nfe,none": 2.0}
    assert rows["b"] == {"nfe,none": 2.0} and rows["h"] == {"nfe,none": 2.0}
    assert rows["g"] == {"kendall_tau,none": 0.75, "kendall_tau_stderr,none": "N/A", "kendall_tau_n,none": 2,
                         "nfe,none": 2.0}
    assert not any(isinstance(v, float) and math.isnan(v) for row in rows.values() for v in row.values())
