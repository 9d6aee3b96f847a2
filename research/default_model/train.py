"""Train the default model: a small masked-diffusion LM, from scratch, on 2 CPU cores.

Objective (the masked-diffusion SFT setup of LLaDA, Nie et al. 2025, Eq. 5): for a prompt p and an
answer r padded with EOS to a fixed length, draw t ~ U(eps, 1), mask each answer token independently
with probability t, and minimise the cross-entropy of the masked answer tokens. ``weighting="elbo"``
weights each row by 1/t and normalises by the answer length (LLaDA's bound); ``"token"`` (the
shipped recipe) averages over the batch's masked tokens, which has the same minimiser and far less
variance at batch size 32. The prompt is never masked; attention is bidirectional.

The architecture is transformers' BERT masked LM (see :func:`build_model` for why), saved with
``save_pretrained`` together with its tokenizer (byte-level BPE whose vocabulary holds every name part
as one token), a chat template and mask/EOS tokens.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import NamedTuple

import torch

from lm_eval_mdlm.tasks import vocab
from research.default_model.token_types import (PREVIOUS_TOKEN_TYPES, TYPE_SKIP_KEY, previous_token_types,
                                                punctuation_ids, token_types)

WEIGHTINGS = ("elbo", "token")
"""Loss weightings of the masked tokens (see :attr:`Recipe.weighting`)."""


class Example(NamedTuple):
    """One training row: the prompt as the model sees it and the answer text without EOS."""

    prompt: str
    answer: str
    targets: frozenset[str] | None = None
    """None: the masked-diffusion corruption of the answer (each token masked with probability t).
    Otherwise a drill: exactly the answer tokens whose text is in this set are masked and trained on,
    everything else is given (e.g. every last name, with the first names shown)."""


@dataclass
class Recipe:
    """Every knob of a training run; saved next to the checkpoint as ``recipe.json``."""

    seed: int = 0
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    intermediate: int = 512
    vocab_size: int = 1536
    answer_length: int = 32
    max_positions: int = 512
    """Learned position embeddings: the longest prompt + answer the model can take."""
    batch_size: int = 32
    lr: float = 1e-3
    warmup: int = 100
    steps: int = 3000
    min_mask_rate: float = 1e-3
    weighting: str = "elbo"
    """``elbo``: LLaDA's 1/t-weighted loss (an upper bound on the negative log-likelihood);
    ``token``: mean cross-entropy over the masked tokens of the batch (same minimiser, the
    weighting of the noise levels differs). With small batches the 1/t weight is very noisy: a row
    with t near 0 has zero or one masked token weighted up to 1/t."""
    full_mask_rate: float = 0.0
    """Share of rows trained with LLaDA's pre-training objective (every token maskable) instead of
    SFT (answer only): more supervised tokens per forward, and the one-shot example teaches copying."""
    threads: int = 2
    bf16: bool = False
    """bfloat16 autocast for forward/backward (weights stay float32); used only where the CPU has
    native bf16 instructions (avx512_bf16 / amx_bf16), where it was ~3x faster than float32. Without
    them bf16 is emulated and ~3x *slower* (measured on an AVX-512 Xeon without avx512_bf16), although
    oneDNN's own support check still says yes."""
    curriculum: list[tuple[float, str]] = field(default_factory=list)
    """(fraction of steps, stage name) pairs; see :mod:`research.default_model.data`."""
    init_from: str | None = None
    """Start from the weights of this checkpoint folder (a second phase with a fresh optimiser and
    schedule) instead of a random initialisation."""
    stop_after: int | None = None
    """Stop after this many steps of the ``steps``-long schedule (curriculum and learning rate keep
    following ``steps``): how the shipped run, stopped by its time budget, is reproduced exactly."""
    time_limit_s: float | None = None
    previous_token_types: bool = False
    """Feed each position's previous input id as its ``token_type_ids`` (``type_vocab_size`` = the
    vocabulary; saved as ``config.mdlm_token_types = "previous"``, which the engine refuses: not shipped). It hands
    every token the first half of an induction head, so finding a person's last name by the first name
    (shuffle, the *_random operations) was learnt in ~600 drill steps, where the name-part phases 1-4 of the
    shipped recipe (without it) had not learnt it after 9,690 steps (docs/default_model.md)."""
    types_skip_punctuation: bool = False
    """With :attr:`previous_token_types`: a word's type is the last *word* before it, passing over
    punctuation-only tokens (``punctuation_ids`` in token_types.py, saved as ``config.mdlm_token_types_skip``), which
    themselves get no type (``previous_token_types`` there says why). The first
    name after ``Morris", "`` then has type `` Morris``, so copying a list in order is a chain of the same
    lookup that finds a last name by its first name; with the plain previous id every first name's type
    is ``"`` and the order had to be learnt from positions (docs/default_model.md). A later phase may switch it on:
    the types of last names (their first name) are the same either way, so a lookup learnt without it stays."""
    person_tokens: bool = False
    """One token per Waiting Line person (``"Mary Smith"``: the 3,600 names of ``vocab.PEOPLE`` added to the
    tokenizer, :func:`~research.default_model.recipe.add_person_tokens`), so a list's items are single
    tokens as in ParallelBench's §4 analysis and nothing binds a first name to its last name across slots.
    A later phase may switch it on: :func:`extend_embeddings` gives the new tokens their rows."""
    person_part_share: float = 0.3
    """Warm start (:func:`extend_embeddings`): a new person's embedding is this share of the sum of its name
    parts' embeddings plus a random vector of a name part's norm, its own identity. The sum alone (share 1, no
    random part) made a mixture of two people score their cross combinations as high (docs/default_model.md)."""


def masked_diffusion_loss(logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor,
                          rate: torch.Tensor, maskable: torch.Tensor) -> torch.Tensor:
    """Sum of CE over masked tokens / t, / number of maskable tokens, mean over rows.

    With the answer as the maskable region this is LLaDA's SFT loss (normalised by the answer length);
    with the whole sequence it is LLaDA's pre-training loss.
    """
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    per_row = (ce * masked).sum(1) / rate / maskable.sum(1).clamp_min(1)
    return per_row.mean()


def token_mean_loss(logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every masked token of the batch (BERT/MaskGIT-style weighting)."""
    ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    return (ce * masked).sum() / masked.sum().clamp_min(1)


def corrupt(tokens: torch.Tensor, maskable: torch.Tensor, mask_id: int, min_rate: float,
            generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mask each maskable token with probability t ~ U(min_rate, 1) drawn per row."""
    rate = min_rate + (1 - min_rate) * torch.rand(tokens.shape[0], generator=generator)
    masked = (torch.rand(tokens.shape, generator=generator) < rate[:, None]) & maskable
    return torch.where(masked, torch.full_like(tokens, mask_id), tokens), masked, rate


def batch_tensors(tokenizer, examples: Sequence[Example], answer_length: int) -> tuple[torch.Tensor, ...]:
    """Left-padded prompts + EOS-padded answers: prompt ids (B, P), attention over both (B, P + A), answers (B, A)."""
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    prompts = [tokenizer(example.prompt, add_special_tokens=False).input_ids for example in examples]
    answers = []
    for example in examples:
        ids = tokenizer(example.answer, add_special_tokens=False).input_ids[:answer_length - 1]
        answers.append(ids + [eos] * (answer_length - len(ids)))
    width = max(map(len, prompts))
    ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts])
    attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    answer_ids = torch.tensor(answers)
    return ids, torch.cat([attention, torch.ones_like(answer_ids)], 1), answer_ids


def build_model(recipe: Recipe, tokenizer):
    """transformers' BERT masked LM (learned absolute positions, post-LN), randomly initialised.

    Why BERT and not ModernBERT (rotary, pre-LN): copying a 1-person echo (stage ``echo1``, 2
    layers, lr 1e-3, token weighting) was learnt by BERT in ~75 steps and by ModernBERT in ~350;
    on the task prompts ModernBERT runs of up to 2,200 steps never left the plateau (docs/default_model.md).
    Absolute positions are harmless here: the engine passes position ids that restart at each
    row's first real token, so left padding does not move them.
    """
    import transformers

    if recipe.init_from:
        model = transformers.BertForMaskedLM.from_pretrained(recipe.init_from, dtype=torch.float32)
        if len(tokenizer) > model.config.vocab_size:
            extend_embeddings(model, tokenizer, recipe.person_part_share, recipe.seed)
        # the recipe, not the checkpoint, says whether types skip punctuation: a later phase may switch it on
        if recipe.types_skip_punctuation:
            setattr(model.config, TYPE_SKIP_KEY, punctuation_ids(tokenizer))
        elif hasattr(model.config, TYPE_SKIP_KEY):
            delattr(model.config, TYPE_SKIP_KEY)
        return model
    config = transformers.BertConfig(
        vocab_size=len(tokenizer), hidden_size=recipe.hidden, num_hidden_layers=recipe.layers,
        num_attention_heads=recipe.heads, intermediate_size=recipe.intermediate,
        max_position_embeddings=recipe.max_positions, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        type_vocab_size=len(tokenizer) if recipe.previous_token_types else 1, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        mask_token_id=tokenizer.mask_token_id, tie_word_embeddings=True,
        **({"mdlm_token_types": PREVIOUS_TOKEN_TYPES} if recipe.previous_token_types else {}),
        **({TYPE_SKIP_KEY: punctuation_ids(tokenizer)} if recipe.types_skip_punctuation else {}))
    torch.manual_seed(recipe.seed)
    return transformers.BertForMaskedLM(config)


def extend_embeddings(model, tokenizer, part_share: float, seed: int) -> None:
    """Rows for the person tokens the tokenizer gained since ``model`` was saved (a warm start).

    Each new token ``"First Last"`` gets ``part_share`` x (embedding of ``First`` + embedding of `` Last``)
    plus a random direction scaled to the name parts' mean norm, and the mean of their output biases: the
    parts carry over what the model knows of the names (copying, sorting by last name), the random
    direction makes each person distinct from every mix of other people's halves.
    """
    old = model.config.vocab_size
    new_tokens = tokenizer.convert_ids_to_tokens(list(range(old, len(tokenizer))))
    unknown = sorted(set(new_tokens) - set(vocab.PEOPLE))
    if unknown:
        raise ValueError(f"the tokenizer has {len(unknown)} tokens the checkpoint lacks that are not Waiting Line "
                         f"people (e.g. {unknown[:3]}); only person tokens (Recipe.person_tokens) can be added to "
                         "a trained checkpoint, other vocabulary changes need training from scratch.")
    parts = []
    for person in new_tokens:
        first, last = person.split(" ")
        ids = [tokenizer(text, add_special_tokens=False).input_ids for text in (first, f" {last}")]
        if any(len(piece) != 1 for piece in ids):
            raise ValueError(f"{person!r}: a name part is not one token of the base tokenizer ({ids}); person "
                             "embeddings start from their name parts' rows.")
        parts.append([ids[0][0], ids[1][0]])
    parts_t = torch.tensor(parts)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    embeddings, bias = model.get_input_embeddings().weight.data, model.cls.predictions.bias.data
    norm = embeddings[parts_t.unique()].norm(dim=1).mean()
    direction = torch.randn(len(parts), embeddings.shape[1], generator=torch.Generator().manual_seed(seed))
    embeddings[old:] = part_share * embeddings[parts_t].sum(1) + direction / direction.norm(dim=1, keepdim=True) * norm
    bias[old:] = bias[parts_t].mean(1)


def check_recipe(recipe: Recipe) -> None:
    """Raise for option combinations the trainer cannot run (before any model is built)."""
    if recipe.weighting not in WEIGHTINGS:
        raise ValueError(f"unknown weighting {recipe.weighting!r}; valid: {', '.join(WEIGHTINGS)} (Recipe.weighting).")
    if recipe.types_skip_punctuation and not recipe.previous_token_types:
        raise ValueError("Recipe.types_skip_punctuation=True changes the previous-token types, which are off "
                         "(previous_token_types=False); set previous_token_types=True as well.")
    if recipe.person_tokens and recipe.previous_token_types:
        raise ValueError("Recipe.person_tokens=True with previous_token_types=True: the previous-token types index "
                         "a type embedding sized to the vocabulary before the person tokens; use one of the two.")


def train(recipe: Recipe, tokenizer, sample: Callable[[str, random.Random, int], list[Example]], out_dir: str,
          log: Callable[[str], None] = print,
          on_step: Callable[[int, torch.nn.Module], None] | None = None) -> dict:
    """Run the recipe; ``sample(stage, rng, batch_size)`` draws training examples of a curriculum stage."""
    check_recipe(recipe)
    torch.set_num_threads(recipe.threads)
    rng, gen = random.Random(recipe.seed), torch.Generator().manual_seed(recipe.seed)
    model = build_model(recipe, tokenizer).train()
    optim = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=0.01, betas=(0.9, 0.98))
    schedule = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min(1.0, (s + 1) / recipe.warmup) * 0.5 * (
        1 + math.cos(math.pi * min(1.0, s / recipe.steps))))
    stages = recipe.curriculum or [(1.0, "all")]
    use_bf16 = recipe.bf16 and native_bf16()
    start, history = time.time(), []
    for step in range(min(recipe.steps, recipe.stop_after or recipe.steps)):
        progress = step / recipe.steps
        stage = next((name for until, name in _cumulative(stages) if progress < until), stages[-1][1])
        examples = sample(stage, rng, recipe.batch_size)
        ids, attention, answers = batch_tensors(tokenizer, examples, recipe.answer_length)
        tokens = torch.cat([ids, answers], 1)
        try:
            noisy, masked, rate, maskable = training_mask(tokenizer, examples, tokens, attention, ids.shape[1],
                                                          recipe, gen)
        except ValueError as error:
            raise ValueError(f"curriculum stage {stage!r}: {error}") from None
        first = 0 if recipe.full_mask_rate else ids.shape[1]  # SFT only: no targets in the prompt
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            logits = logits_from(model, noisy, attention, first)
        tokens, masked, maskable = tokens[:, first:], masked[:, first:], maskable[:, first:]
        if recipe.weighting == "elbo":
            loss = masked_diffusion_loss(logits.float(), tokens, masked, rate, maskable)
        else:
            loss = token_mean_loss(logits.float(), tokens, masked)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optim.step()
        schedule.step()
        history.append(loss.item())
        if on_step is not None:
            on_step(step, model)
        if step % 50 == 0 or step == recipe.steps - 1:
            recent = sum(history[-50:]) / len(history[-50:])
            log(f"step {step:5d}  stage {stage:10s}  loss {recent:.4f}  {time.time() - start:7.0f}s")
        if recipe.time_limit_s and time.time() - start > recipe.time_limit_s:
            log(f"time limit reached at step {step}")
            break
    model.eval()
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    summary = {"recipe": asdict(recipe), "steps_run": len(history), "seconds": round(time.time() - start),
               "first_loss": sum(history[:10]) / max(1, len(history[:10])),
               "final_loss": sum(history[-10:]) / max(1, len(history[-10:]))}
    with open(os.path.join(out_dir, "recipe.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary


def training_mask(tokenizer, examples: Sequence[Example], tokens: torch.Tensor, attention: torch.Tensor,
                  prompt_width: int, recipe: Recipe, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy tokens, which are targets, t per row, which may be masked): the masked-diffusion corruption
    of every row, except that a drill row (:attr:`Example.targets`) masks exactly its target tokens."""
    maskable = _maskable(attention, prompt_width, recipe.full_mask_rate, generator)
    noisy, masked, rate = corrupt(tokens, maskable, tokenizer.mask_token_id, recipe.min_mask_rate, generator)
    drill = drill_targets(tokenizer, examples, tokens[:, prompt_width:])
    if drill is None:
        return noisy, masked, rate, maskable
    if recipe.weighting == "elbo":
        raise ValueError("drill rows have fixed targets and no noise level t, which the 1/t-weighted loss "
                         "cannot weight; train them with weighting='token'.")
    rows, only = drill
    masked[:, :prompt_width] &= ~rows[:, None]
    masked[:, prompt_width:] = torch.where(rows[:, None], only, masked[:, prompt_width:])
    return torch.where(masked, tokenizer.mask_token_id, tokens), masked, rate, maskable


def drill_targets(tokenizer, examples: Sequence[Example], answers: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Which rows are drills (B,) and, in them, which answer tokens are the targets (B, A); None if no drill."""
    sets = [example.targets for example in examples]
    if all(targets is None for targets in sets):
        return None
    empty = torch.zeros(len(tokenizer), dtype=torch.bool)
    per_row = torch.stack([empty if targets is None else target_table(tokenizer, targets) for targets in sets])
    rows = torch.tensor([targets is not None for targets in sets])
    only = per_row.gather(1, answers)
    if (rows & ~only.any(1)).any():
        raise ValueError("a drill row has none of its target tokens in its answer, so it would train on nothing "
                         "(e.g. last-name drills with one token per person, Recipe.person_tokens); drop the "
                         "drill stage from the curriculum.")
    return rows, only


@lru_cache(maxsize=None)
def target_table(tokenizer, targets: frozenset[str]) -> torch.Tensor:
    """Vocabulary mask of a drill's target texts (built once per tokenizer and set, not every step).

    Each text must be one token of ``tokenizer`` (targets are matched by token id): a text that
    splits would silently never be a target, so it is refused.
    """
    table = torch.zeros(len(tokenizer), dtype=torch.bool)
    for text in targets:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise ValueError(f"drill target {text!r} is {len(ids)} tokens of this tokenizer; a target must be "
                             "one token (retrain the tokenizer so that it is, or drop it from the target set).")
        table[ids[0]] = True
    return table


def logits_from(model, input_ids: torch.Tensor, attention: torch.Tensor, start: int) -> torch.Tensor:
    """The masked LM's logits for positions ``start:`` only.

    With answer-only targets the vocabulary projection over the prompt (4/5 of the positions) is
    wasted work; the encoder still sees the whole sequence, so the logits equal the full forward's.
    """
    hidden = model.bert(input_ids=input_ids, **encoder_inputs(model, input_ids, attention))
    return model.cls(hidden.last_hidden_state[:, start:])


def encoder_inputs(model, input_ids: torch.Tensor, attention: torch.Tensor, shift: int = 0) -> dict[str, torch.Tensor]:
    """The padding mask, position ids (moved by ``shift``) and, for a model trained with them, the
    previous-token types: what the engine passes to the default model besides ``input_ids``."""
    inputs = {"attention_mask": attention, "position_ids": positions(attention) + shift}
    previous, skip = token_types(model.config, model.config.vocab_size)
    if previous:
        inputs["token_type_ids"] = previous_token_types(input_ids, attention, model.config.pad_token_id, skip)
    return inputs


def positions(attention: torch.Tensor) -> torch.Tensor:
    """Position ids restarting at each row's first real token, as the engine passes them."""
    return (attention.long().cumsum(1) - 1).clamp_min(0)


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (Linux /proc/cpuinfo flags; False elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _maskable(attention: torch.Tensor, prompt_width: int, full_rate: float,
              generator: torch.Generator) -> torch.Tensor:
    """Which tokens a row may mask: the answer (SFT rows) or, for a ``full_rate`` share of rows, every
    real token (pre-training rows: the one-shot example's answer then teaches copying too)."""
    full = torch.rand(attention.shape[0], generator=generator) < full_rate
    answer = torch.zeros_like(attention, dtype=torch.bool)
    answer[:, prompt_width:] = True
    return torch.where(full[:, None], attention.bool(), answer)


def _cumulative(stages: Sequence[tuple[float, str]]) -> list[tuple[float, str]]:
    total, out = 0.0, []
    for fraction, name in stages:
        total += fraction
        out.append((total, name))
    return out
