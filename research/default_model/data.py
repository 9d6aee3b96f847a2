"""Training data of the default model: our own generated ParallelBench documents, rendered as lm-eval will.

Documents come from the offline generator of the ParallelBench tasks (:mod:`lm_eval_mdlm.tasks`), so the
model is trained on exactly the prompt templates and one-shot format it is evaluated on: with
``--apply_chat_template`` lm-eval renders ``[user: example prompt, assistant: example answer, user:
prompt]`` through the model's chat template (``tests/test_default_model.py`` checks our rendering
against lm-eval's on a logged sample). Training draws fresh seeds and skips every document of the
``_gen`` evaluation sets, so evaluation data is never trained on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from research.default_model.train import Example
from lm_eval_mdlm.metrics.lists import format_list
from lm_eval_mdlm.tasks import vocab
from lm_eval_mdlm.tasks.generate import generate
from lm_eval_mdlm.tasks.records import records_to_docs
from lm_eval_mdlm.tasks.specs import get_spec

WAITING_LINE_OPS = ("copy", "reverse", "replace_index", "insert_index", "remove_index", "sort", "shuffle",
                    "insert_random", "remove_random", "replace_random")
HARD_OPS = ("replace_index", "insert_index", "remove_index", "shuffle", "insert_random", "remove_random",
            "replace_random")
"""The Waiting Line operations a model learns last: positions to count, or people to keep apart while reordering."""
RANDOM_OPS = ("shuffle", "insert_random", "remove_random", "replace_random")
"""The operations whose answer slots must be filled by finding a person by content (first name -> last name)."""
ORDERED_OPS = ("copy", "replace_index", "insert_index", "remove_index", "insert_random", "remove_random",
               "replace_random")
"""The operations whose answer keeps the list's order: each person's first name follows the person before."""
LIST_OPS = ("copy", "replace_index", "replace_random", "shuffle")
# Curriculum stages. ``echo<n>``: the user message is a list of 1..n people and the answer repeats it
# (copying is learnt on 1-2 people in a few hundred steps, then grows with the list length); ``all``:
# the evaluated one-shot format of every operation; ``all0``: the same prompts without the one-shot
# example; ``waiting_line``: the ten Waiting Line operations only; ``hard``: :data:`HARD_OPS` only.
# ``a+b``: each row drawn from stage a or b (the echo rows keep the copying skill alive; ``all+waiting_line``
# doubles the weight of the Waiting Line operations against the list operations).
# ``bind<n>``: a list of 2..n people and the same people in a random order as the answer, with only the
# last names as targets (every first name given), so the loss falls only if the model finds each slot's
# person by its first name in the prompt (first name -> the token after it there: an induction circuit,
# which shuffle and the *_random operations need and position-copying never learns); ``bind<stage>`` for a
# task stage (e.g. ``bindhard``): that stage's documents with the same last-name-only targets; ``random23``:
# shuffle and the random operations at 2-3 people (the drill's first step, at the task prompts' positions).
# ``first<stage>``: that stage's documents with only the first names as targets (every other token given);
# with ``ordered`` (the operations that keep the list's order) the way to a first name is the person
# before it, which previous-word token types turn into the same lookup as ``bind``'s (train.py).
# ``replace_random``: that operation alone (the last one the person-token model learns, docs/default_model.md);
# ``random``: :data:`RANDOM_OPS` at the evaluated lengths; ``hard56``: :data:`HARD_OPS` at the longest
# evaluated lists (5-6 people), where the shipped model's remaining failures gather.
# ``arrivals``: insert_random and replace_random, the operations that bring a new person in; ``new<stage>``:
# that stage's documents with only the new person as the target (every other answer token given): the slot
# left after every other person is placed must be the newcomer, the conditional greedy one-token-per-step
# decoding ends on and plain corruption rarely shows (``newarrivals``, docs/default_model.md); ``one<stage>``: one
# person of the answer (drawn per document) as the target, every other answer token given, so the slot is the
# newcomer only when the newcomer is missing from the rest of the answer (a set difference, not a shortcut to "new").
ECHO_STAGES = {"echo1": 1, "echo2": 2, "echo3": 3, "echo6": 6}
BIND_STAGES = {"bind2": 2, "bind3": 3, "bind4": 4, "bind6": 6}
LAST_NAME_TOKENS = frozenset(f" {name}" for name in vocab.LAST_NAMES)
"""Last names as they follow a first name in a list (with the space: one token of the default tokenizer)."""
FIRST_NAME_TOKENS = frozenset(vocab.FIRST_NAMES)
"""First names as they follow ``"`` in a list (no space: one token of the default tokenizer)."""
TASK_STAGES: dict[str, tuple[tuple[str, ...], tuple[int, int]]] = {
    "all": (tuple(f"waiting_line/{op}" for op in WAITING_LINE_OPS) + tuple(f"list_ops/{op}" for op in LIST_OPS),
            (3, 6)),
    "waiting_line": (tuple(f"waiting_line/{op}" for op in WAITING_LINE_OPS), (3, 6)),
    "hard": (tuple(f"waiting_line/{op}" for op in HARD_OPS), (3, 6)),
    "hard56": (tuple(f"waiting_line/{op}" for op in HARD_OPS), (5, 6)),
    "random23": (tuple(f"waiting_line/{op}" for op in RANDOM_OPS), (2, 3)),
    "ordered": (tuple(f"waiting_line/{op}" for op in ORDERED_OPS), (3, 6)),
    "arrivals": (("waiting_line/insert_random", "waiting_line/replace_random"), (3, 6)),
    "replace_random": (("waiting_line/replace_random",), (3, 6)),
    "random": (tuple(f"waiting_line/{op}" for op in RANDOM_OPS), (3, 6)),
}
DRILL_PREFIXES: dict[str, Callable[[dict[str, Any], random.Random], frozenset[str]]] = {
    "bind": lambda doc, rng: LAST_NAME_TOKENS,
    "first": lambda doc, rng: FIRST_NAME_TOKENS,
    "new": lambda doc, rng: frozenset({json.loads(doc["reference"])["new"]}),
    "one": lambda doc, rng: frozenset({rng.choice(json.loads(doc["target"]))}),
}
"""``<prefix><task stage>``: that stage's documents with only these tokens (of each document; ``rng``: the
sampler's stream, for a per-document draw) as targets."""
STAGES = (*ECHO_STAGES, *BIND_STAGES, *TASK_STAGES, *(f"{name}0" for name in TASK_STAGES),
          *(f"{prefix}{name}" for prefix in DRILL_PREFIXES for name in TASK_STAGES))
EVAL_SEED, EVAL_SAMPLES = 0, 100  # what task_yamls/parallelbench/*_gen.yaml evaluate on


def messages(doc: dict[str, Any]) -> list[dict[str, str]]:
    """The chat lm-eval builds for a one-shot ParallelBench document with --fewshot_as_multiturn."""
    turns: list[dict[str, str]] = []
    for shot in doc["shots"]:
        turns += [{"role": "user", "content": shot["prompt"]}, {"role": "assistant", "content": shot["target"]}]
    return turns + [{"role": "user", "content": doc["prompt"]}]


def eval_documents(task_id: str) -> list[dict[str, Any]]:
    """The documents lm-eval evaluates for ``task_id``'s ``_gen`` task (n = 3..6)."""
    return records_to_docs(get_spec(task_id), generate(task_id, lengths=(3, 6), num_samples=EVAL_SAMPLES,
                                                         seed=EVAL_SEED))


@lru_cache(maxsize=None)
def held_out(task_id: str) -> frozenset[str]:
    """Prompts of the evaluation documents of ``task_id`` (never trained on)."""
    return frozenset(d["prompt"] for d in eval_documents(task_id))


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

    def __call__(self, stage: str, rng: random.Random, batch_size: int) -> list[Example]:
        if "+" in stage:  # a mixture: each row comes from one of the stages, drawn uniformly
            parts = stage.split("+")
            counts = [0] * len(parts)
            for _ in range(batch_size):
                counts[rng.randrange(len(parts))] += 1
            return [row for part, count in zip(parts, counts) if count for row in self(part, rng, count)]
        if stage not in STAGES:
            raise ValueError(f"unknown curriculum stage {stage!r}; valid: {', '.join(STAGES)}.")
        if stage in ECHO_STAGES:
            lists = [format_list(random_people(rng, ECHO_STAGES[stage])) for _ in range(batch_size)]
            return [Example(self.render([{"role": "user", "content": text}]), text) for text in lists]
        if stage in BIND_STAGES:
            lists = [random_people(rng, BIND_STAGES[stage], at_least=2) for _ in range(batch_size)]
            return [Example(self.render([{"role": "user", "content": format_list(people)}]),
                            format_list(rng.sample(people, len(people))), LAST_NAME_TOKENS) for people in lists]
        targets = None
        for prefix, drill in DRILL_PREFIXES.items():
            if stage.startswith(prefix) and stage[len(prefix):] in TASK_STAGES:
                stage, targets = stage[len(prefix):], drill
                break
        one_shot = stage in TASK_STAGES
        if stage not in self._streams:
            self._streams[stage] = documents(*TASK_STAGES[stage if one_shot else stage[:-1]], rng)
        batch = [next(self._streams[stage]) for _ in range(batch_size)]
        return [Example(self.render(messages(d) if one_shot else [{"role": "user", "content": d["prompt"]}]),
                        d["target"], targets(d, rng) if targets else None) for d in batch]

    def render(self, turns: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)


def random_people(rng: random.Random, max_items: int, at_least: int = 1) -> list[str]:
    """at_least..max_items Waiting Line people ("First Last"); ``format_list`` writes them as the tasks do."""
    return [f"{rng.choice(vocab.FIRST_NAMES)} {rng.choice(vocab.LAST_NAMES)}"
            for _ in range(rng.randint(at_least, max_items))]


def corpus(rng: random.Random, documents_per_task: int = 200) -> list[str]:
    """Texts to train the tokenizer on: prompts and answers of every training task."""
    texts = []
    for task_id in TASK_STAGES["all"][0]:
        docs = records_to_docs(get_spec(task_id), generate(task_id, lengths=(3, 6), num_samples=documents_per_task,
                                                             seed=rng.randrange(1, 1 << 31)))
        for doc in docs:
            texts += [t["content"] for t in messages(doc)] + [doc["target"]]
    return texts
