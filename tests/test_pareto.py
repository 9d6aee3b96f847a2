"""benchmarks/pareto.py: its fast path measures what ``--model_args`` measures, and docs/psd.md quotes its record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.pareto import docs_block, evaluate, undominated

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "benchmarks" / "results" / "pareto.json"


@pytest.mark.parametrize("knobs", ["strategy=psd,threshold=0.7,psd_depth=4", "strategy=eb,entropy_bound=1.0",
                                   "strategy=psd,psd_policy=top1,psd_accept=lossless,psd_depth=4"])
def test_one_loaded_model_with_gen_kwargs_measures_what_model_args_measure(knobs: str) -> None:
    from lm_eval.tasks import TaskManager

    from lm_eval_mdlm.model import MDLM

    manager = TaskManager()
    task = "parallelbench_list_ops_shuffle_gen"
    loaded = MDLM(pretrained="oracle:shuffle", batch_size=2, device="cpu")
    evaluate(loaded, task, "k=1", 3, False, manager)  # a previous setting on the same instance must not leak
    fast = evaluate(loaded, task, knobs, 3, False, manager)
    slow = evaluate("pretrained=oracle:shuffle,", task, knobs, 3, False, manager, batch_size=3)
    assert fast == slow
    assert fast["samples"] == 3


def test_psd_strictly_above_means_beating_every_other_point() -> None:
    points = [("topk", "k=1", 0.8, 32.0, 32.0), ("threshold", "0.9", 0.7, 4.0, 4.0), ("psd", "a", 0.75, 3.0, 8.0)]
    assert undominated(points) == [("topk", "k=1", 0.8, 32.0, 32.0)]  # no psd point reaches 80 %
    points.append(("psd", "b", 0.8, 25.6, 60.0))  # equal accuracy at 1.25x fewer calls
    assert undominated(points) == []
    points.append(("eb", "1.0", 0.75, 3.5, 3.5))  # psd "a" ties it at only 1.17x fewer calls
    assert undominated(points) == [("eb", "1.0", 0.75, 3.5, 3.5)]


def test_docs_quote_the_recorded_run() -> None:
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    assert record["limit"] == 100 and record["points"]
    assert docs_block(record) in (ROOT / "docs" / "psd.md").read_text(encoding="utf-8")
