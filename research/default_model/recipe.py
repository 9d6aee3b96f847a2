"""The default model's recipe: tokenizer, curriculum and hyper-parameters, in one place.

``run(out_dir)`` trains it (seeded; settings and timings land in ``recipe.json``). What was tried and measured on
the way, and why the recipe is what it is: docs/default_model.md.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
from collections.abc import Callable
from typing import Any

from research.default_model.data import Sampler, corpus
from research.default_model.train import Recipe, train
from lm_eval_mdlm.tasks import vocab
from research.tokenizer import train_bpe_tokenizer

SPECIAL_TOKENS = {"pad_token": "<pad>", "mask_token": "<mask>", "eos_token": "<eos>", "bos_token": "<bos>",
                  "unk_token": "<unk>"}
ROLE_TOKENS = ["<|user|>", "<|assistant|>", "<|system|>"]
# Each message is "<|role|>\n{content}\n"; the generation prompt opens the assistant turn.
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>\n{% endif %}")

RECIPE = Recipe(seed=0, hidden=256, layers=4, heads=8, intermediate=1024, vocab_size=1024, answer_length=32,
                batch_size=32, lr=1e-3, warmup=100, steps=5000, stop_after=3271, threads=2, bf16=False,
                weighting="token", full_mask_rate=0.0,
                curriculum=[(0.03, "echo1"), (0.05, "echo2"), (0.06, "echo3"), (0.1, "echo6"), (0.76, "all+echo6")])
"""Phase 1. The shipped run had a 45-minute budget and stopped after 3,271 of the schedule's 5,000
steps (``stop_after`` reproduces exactly that cut)."""


def _phase(steps: int, lr: float, stage: str, warmup: int = 30, stop_after: int | None = None,
           **changes: Any) -> dict[str, Any]:
    """One later phase: ``steps`` on one curriculum stage. ``stop_after`` is always set (None: the whole schedule)
    so a cut of an earlier phase is never inherited."""
    return {"steps": steps, "stop_after": stop_after, "lr": lr, "warmup": warmup, "curriculum": [(1.0, stage)],
            **changes}


LATER_PHASES: list[dict[str, Any]] = [
    _phase(1500, 5e-4, "all+echo6", warmup=50),
    _phase(3400, 5e-4, "all+waiting_line", warmup=50, stop_after=2619),
    _phase(2300, 5e-4, "hard+waiting_line", warmup=50),
    _phase(1500, 5e-4, "waiting_line+hard", warmup=50, person_tokens=True),
    _phase(600, 3e-4, "waiting_line+replace_random"),
    _phase(800, 3e-4, "waiting_line+random"),
    _phase(600, 3e-4, "waiting_line+replace_random+onearrivals"),
    _phase(900, 3e-4, "waiting_line+replace_random+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+replace_random+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56+onereplace_random"),
    _phase(900, 2e-4, "waiting_line+hard56+onehard56+onearrivals"),
]
"""Phases 2-13, each from the previous phase's weights with a fresh optimiser and cosine schedule.
Phase 2 anneals the learning rate phase 1 never got to lower. Phase 3 drops the echo rows (copying
is learnt by then) and doubles the weight of the Waiting Line operations (``all+waiting_line``); it
had a 45-minute budget and stopped after 2,619 of 3,400 steps (``stop_after``). Phase 4 weights the
operations still being learnt (``hard``: index, shuffle and random operations). Phase 5 switches to one
token per person (:attr:`~research.default_model.train.Recipe.person_tokens`, new embedding rows from
the name parts' plus an identity of their own), which the shuffle and random operations needed; phases 6
and 7 weight replace_random, the operation it learnt last, then the four random operations; phases 8-10 add
rows with one drawn person of the answer as the only target (``one<stage>``), which teach the conditional
greedy decoding ends replace_random on: the slot left is the newcomer's when the newcomer is missing;
phases 11-13 weight the hard operations at the longest lists (``hard56``) with the same drill on them, then
on replace_random, then on both operations that bring a newcomer in (``onearrivals``)."""


def add_person_tokens(tokenizer: Any) -> None:
    """Add one token per Waiting Line person (``vocab.PEOPLE``, ids after the BPE vocabulary, in that order;
    adding them again changes nothing). Lists then tokenize as ``["``, ``Mary Smith``, ``",``, `` "``, ...."""
    tokenizer.add_tokens(list(vocab.PEOPLE))


def build_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE trained on the task corpus: every name part ends up as one token.

    The GPT-2 style
    pre-tokenizer keeps words apart from punctuation, so a first name is one token and a last name
    (with its leading space) another, which makes copying a list a token-level operation.
    """
    tokenizer = train_bpe_tokenizer(texts, SPECIAL_TOKENS, vocab_size, CHAT_TEMPLATE, extra=ROLE_TOKENS)
    tokenizer.model_max_length = 1024
    return tokenizer


def run(out_dir: str, on_step: Callable[[int, Any], None] | None = None,
        phases: list[dict[str, Any]] | None = None, first_phase: int = 1, **changes: Any) -> dict:
    """Train the default model into ``out_dir``: phase 1 (:data:`RECIPE` with ``changes``) into
    ``out_dir/phase1``, then each of ``phases`` (default :data:`LATER_PHASES`; each a dict of recipe
    changes on top of the previous phase) from the previous phase's weights; the last one into ``out_dir``.

    ``first_phase`` > 1 resumes: the earlier phases are not trained, phase ``first_phase`` starts from the
    weights in ``out_dir/phase{first_phase - 1}`` (and their summaries are read from its recipe.json).
    ``on_step(step, model)`` is called after every optimiser step of every phase (progress checks).
    Returns the last phase's summary with the earlier ones under ``"phases"`` (in order).
    """
    recipe = dataclasses.replace(RECIPE, **changes)
    later = LATER_PHASES if phases is None else phases
    if not 1 <= first_phase <= len(later) + 1:
        raise ValueError(f"first_phase={first_phase} is not a phase of this run; valid: 1..{len(later) + 1}.")
    tokenizer = build_tokenizer(corpus(random.Random(recipe.seed)), recipe.vocab_size)
    log = lambda line: print(line, flush=True)  # noqa: E731 - progress lines, flushed for long runs
    summaries: list[dict] = []
    if first_phase > 1:
        with open(os.path.join(out_dir, f"phase{first_phase - 1}", "recipe.json")) as f:
            summaries.append(json.load(f))  # the phase resumed from (its own record of earlier phases inside)
    for number in range(1, len(later) + 2):
        if number > 1:
            previous = os.path.join(out_dir, f"phase{number - 1}")
            recipe = dataclasses.replace(recipe, **later[number - 2], init_from=previous)
        folder = out_dir if number == len(later) + 1 else os.path.join(out_dir, f"phase{number}")
        if recipe.person_tokens:
            add_person_tokens(tokenizer)
        if number < first_phase:
            continue
        log(f"phase {number} of {len(later) + 1} -> {folder}")
        summaries.append(train(recipe, tokenizer, Sampler(tokenizer), folder, log=log, on_step=on_step))
    return {**summaries[-1], "phases": summaries[:-1]}
