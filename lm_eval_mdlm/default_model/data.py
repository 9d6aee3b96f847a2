"""Training data of the default model: our own generated ParallelBench documents, rendered as lm-eval will.

Documents come from the offline generator of the ParallelBench tasks (:mod:`lm_eval_mdlm.tasks`), so the
model is trained on exactly the prompt templates and one-shot format it is evaluated on: with
``--apply_chat_template`` lm-eval renders ``[user: example prompt, assistant: example answer, user:
prompt]`` through the model's chat template (``tests/test_default_model.py`` checks our rendering
against lm-eval's on a logged sample). Training draws fresh seeds and skips every document of the
``_gen`` evaluation sets, so evaluation data is never trained on.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from lm_eval_mdlm.tasks.generate import generate
from lm_eval_mdlm.tasks.records import records_to_docs
from lm_eval_mdlm.tasks.specs import get_spec

WAITING_LINE_OPS = ("copy", "reverse", "replace_index", "insert_index", "remove_index", "sort", "shuffle",
                    "insert_random", "remove_random", "replace_random")
LIST_OPS = ("copy", "replace_index", "replace_random", "shuffle")
# Curriculum stages: (task ids, list lengths). Copying is learnt first on short lists, then all ops.
STAGES: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "copy": (tuple(f"waiting_line/{op}" for op in ("copy", "reverse")) + ("list_ops/copy",), (3, 6)),
    "all": (tuple(f"waiting_line/{op}" for op in WAITING_LINE_OPS) + tuple(f"list_ops/{op}" for op in LIST_OPS),
            (3, 6)),
}
EVAL_SEED, EVAL_SAMPLES = 0, 100  # what task_yamls/parallelbench/*_gen.yaml evaluate on


def messages(doc: dict[str, Any]) -> list[dict[str, str]]:
    """The chat lm-eval builds for a one-shot ParallelBench document with --fewshot_as_multiturn."""
    turns: list[dict[str, str]] = []
    for shot in doc["shots"]:
        turns += [{"role": "user", "content": shot["prompt"]}, {"role": "assistant", "content": shot["target"]}]
    return turns + [{"role": "user", "content": doc["prompt"]}]


@lru_cache(maxsize=None)
def held_out(task_id: str) -> frozenset[str]:
    """Prompts of the evaluation documents of ``task_id`` (never trained on)."""
    docs = records_to_docs(get_spec(task_id), generate(task_id, lengths=(3, 6), num_samples=EVAL_SAMPLES,
                                                         seed=EVAL_SEED))
    return frozenset(d["prompt"] for d in docs)


def documents(task_ids: Sequence[str], lengths: tuple[int, int], rng: random.Random) -> Iterator[dict[str, Any]]:
    """An endless stream of fresh training documents, task drawn uniformly per document."""
    while True:
        task_id = rng.choice(list(task_ids))
        seed = rng.randrange(1, 1 << 31)
        for doc in records_to_docs(get_spec(task_id), generate(task_id, lengths=lengths, num_samples=8, seed=seed)):
            if doc["prompt"] not in held_out(task_id):
                yield doc


class Sampler:
    """Draws (rendered prompt, answer) training pairs for a curriculum stage."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._streams: dict[str, Iterator[dict[str, Any]]] = {}

    def __call__(self, stage: str, rng: random.Random, batch_size: int) -> list[tuple[str, str]]:
        if stage not in STAGES:
            raise ValueError(f"unknown curriculum stage {stage!r}; valid: {', '.join(STAGES)}.")
        if stage not in self._streams:
            self._streams[stage] = documents(*STAGES[stage], rng)
        stream = self._streams[stage]
        batch = [next(stream) for _ in range(batch_size)]
        return [(self.tokenizer.apply_chat_template(messages(d), tokenize=False, add_generation_prompt=True),
                 d["target"]) for d in batch]


def corpus(rng: random.Random, documents_per_task: int = 200) -> list[str]:
    """Texts to train the tokenizer on: prompts and answers of every training task."""
    texts = []
    for task_id in STAGES["all"][0]:
        docs = records_to_docs(get_spec(task_id), generate(task_id, lengths=(3, 6), num_samples=documents_per_task,
                                                             seed=rng.randrange(1, 1 << 31)))
        for doc in docs:
            texts += [t["content"] for t in messages(doc)] + [doc["target"]]
    return texts
