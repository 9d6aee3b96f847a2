"""Would torch.compile or less padding bring the default model's recipe near one hour on 2 CPU cores?

Times the recipe's training step (forward, backward, AdamW) on the task-prompt batches of phases 3-4
(``all+waiting_line``), eager and ``torch.compile``-d, the two interleaved batch by batch on the same
batches (so machine noise hits both alike), after a warm-up that includes compilation. Prints the
compiled/eager ratio of the step time and the share of prompt positions that are left padding (the most
that bucketing prompts by length could save). The recipe is 17,690 steps, 19,946 s (``checkpoint/recipe.json``).
It times the shipped checkpoint (one token per person since phase 5); the ratios quoted in recipe.py were
measured on the name-part model of phases 1-4.

``--sizes`` instead times smaller BERTs of the same vocabulary (random weights: hidden 256 / 2 layers, hidden 128
/ 4 and 2 layers) against the shipped model, interleaved the same way: how many more steps a one-hour recipe
could afford with a smaller model (whether it learns the operations in them is a training question).

Run: ``OMP_NUM_THREADS=2 python benchmarks/default_model_train_speed.py [--batches 10] [--sizes]``.
"""

from __future__ import annotations

import argparse
import functools
import random
import statistics
import time

import torch
from transformers import AutoConfig, AutoTokenizer, BertConfig, BertForMaskedLM

from lm_eval_mdlm.default_model import default_checkpoint
from research.default_model.data import Sampler
from research.default_model.recipe import RECIPE
from research.default_model.train import batch_tensors, logits_from, token_mean_loss, training_mask


SIZES = {"hidden 256, 2 layers": (256, 2, 8), "hidden 128, 4 layers": (128, 4, 4), "hidden 128, 2 layers": (128, 2, 4)}
"""Smaller BERTs for ``--sizes``: hidden size, layers, heads (intermediate = 4 x hidden, as the shipped model's)."""


def smaller_models() -> dict[str, BertForMaskedLM]:
    """Random-weight BERTs of :data:`SIZES` with the shipped model's vocabulary and positions."""
    shipped = AutoConfig.from_pretrained(default_checkpoint()).to_dict()
    return {name: BertForMaskedLM(BertConfig(**{**shipped, "hidden_size": hidden, "num_hidden_layers": layers,
                                                "num_attention_heads": heads, "intermediate_size": 4 * hidden})).train()
            for name, (hidden, layers, heads) in SIZES.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--sizes", action="store_true", help="time smaller models against the shipped one")
    args = parser.parse_args()
    torch.set_num_threads(RECIPE.threads)
    tokenizer = AutoTokenizer.from_pretrained(default_checkpoint())
    sampler, rng = Sampler(tokenizer), random.Random(0)
    drawn = [sampler("all+waiting_line", rng, RECIPE.batch_size) for _ in range(args.batches + 2)]
    batches = [(examples, *batch_tensors(tokenizer, examples, RECIPE.answer_length)) for examples in drawn]
    model = BertForMaskedLM.from_pretrained(default_checkpoint()).train()
    # each mode: the model it trains and its forward; one optimiser per model (eager and compiled share one)
    models = {"shipped": model, **smaller_models()} if args.sizes else {"eager": model, "compiled": model}
    forwards = {mode: functools.partial(logits_from, m) for mode, m in models.items()}
    if not args.sizes:
        forwards["compiled"] = torch.compile(forwards["compiled"], dynamic=True)
    optimiser_of = {id(m): torch.optim.AdamW(m.parameters(), lr=1e-6) for m in models.values()}
    optimisers = {mode: optimiser_of[id(m)] for mode, m in models.items()}
    generator = torch.Generator().manual_seed(0)

    def step(mode: str, batch: tuple) -> float:
        examples, ids, attention, answers = batch
        start = time.perf_counter()
        tokens = torch.cat([ids, answers], 1)
        noisy, masked, _, _ = training_mask(tokenizer, examples, tokens, attention, ids.shape[1], RECIPE, generator)
        logits = forwards[mode](noisy, attention, ids.shape[1])
        loss = token_mean_loss(logits, answers, masked[:, ids.shape[1]:])
        optimisers[mode].zero_grad(set_to_none=True)
        loss.backward()
        optimisers[mode].step()
        return time.perf_counter() - start

    for batch in batches[:2]:  # warm-up: compilation (static and dynamic shapes) and allocator
        for mode in forwards:
            step(mode, batch)
    times: dict[str, list[float]] = {mode: [] for mode in forwards}
    for batch in batches[2:]:
        for mode in forwards:
            times[mode].append(step(mode, batch))
    reference = "shipped" if args.sizes else "eager"
    for mode in forwards:
        if mode == reference:
            continue
        ratios = [t / r for t, r in zip(times[mode], times[reference])]
        print(f"{mode} / {reference} step time: median {statistics.median(ratios):.2f} "
              f"(pairs {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} batches)")
    padding = statistics.mean((attention[:, :ids.shape[1]] == 0).float().mean().item()
                              for _, ids, attention, _ in batches)
    print(f"left padding: {100 * padding:.0f} % of prompt positions")


if __name__ == "__main__":
    main()
