"""The list-operation oracle behind ``--model mdlm`` on the ParallelBench list-operation tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_mdlm.metrics.lists import parse_list

REPO = Path(__file__).resolve().parents[1]
TASK = "parallelbench_list_ops_{}_gen"


@pytest.fixture(scope="module")
def evaluate():
    """simple_evaluate with ``pretrained=oracle:...`` (resolved by ``load_denoiser``)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, include_path=str(REPO / "task_yamls"))

    def run(op: str, model_args: str, **kwargs):
        out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained=oracle:{model_args}",
                                      tasks=[TASK.format(op)], limit=20, task_manager=manager, device="cpu",
                                      log_samples=True, **kwargs)
        return out["results"][TASK.format(op)], out["samples"][TASK.format(op)]

    return run


@pytest.mark.parametrize("decoding", ["", ",k=4", ",strategy=threshold,threshold=0.7",
                                      ",k=3,temperature=1.0,score=random", ",block_length=4,steps=8"])
@pytest.mark.parametrize("op", ["copy", "replace_index"])
def test_zero_correlation_tasks_score_perfectly_with_any_strategy(evaluate, op: str, decoding: str) -> None:
    results, samples = evaluate(op, f"{op},batch_size=8{decoding}")
    assert results["score,none"] == 1.0 and len(samples) == 20


def test_chat_template_and_auto_batch_size(evaluate) -> None:
    results, samples = evaluate("replace_index", "replace_index,batch_size=auto", apply_chat_template=True,
                                fewshot_as_multiturn=True)
    assert results["score,none"] == 1.0
    assert samples[0]["arguments"][0][0].endswith("<|assistant|>")


def test_replace_random_one_by_one_and_shuffle_answers_are_permutations(evaluate) -> None:
    results, _ = evaluate("replace_random", "replace_random,batch_size=8")
    assert results["score,none"] == 1.0  # one-by-one: the last open position must take F
    results, samples = evaluate("shuffle", "shuffle,batch_size=8")
    for sample in samples:  # one-by-one: always a permutation (the identity scores 0 in the task)
        items = json.loads(sample["doc"]["reference"])["items"]
        assert sorted(parse_list(sample["resps"][0][0])) == sorted(items)
    results, _ = evaluate("shuffle", "shuffle,batch_size=8,k=32")  # one step: Eq. 5 says mostly wrong
    assert results["score,none"] < 0.5
