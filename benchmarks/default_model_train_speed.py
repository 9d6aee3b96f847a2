"""Would torch.compile or less padding bring the default model's recipe near one hour on 2 CPU cores?

Times the recipe's training step (forward, backward, AdamW) on the task-prompt batches of phases 3-4
(``all+waiting_line``), eager and ``torch.compile``-d, the two interleaved batch by batch on the same
batches (so machine noise hits both alike), after a warm-up that includes compilation. Prints the
compiled/eager ratio of the step time and the share of prompt positions that are left padding (the most
that bucketing prompts by length could save). The recipe is 17,690 steps, 19,946 s (``checkpoint/recipe.json``).
It times the shipped checkpoint (one token per person since phase 5); the ratios quoted in recipe.py were
measured on the name-part model of phases 1-4.

Run: ``OMP_NUM_THREADS=2 python benchmarks/default_model_train_speed.py [--batches 10]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import torch
from transformers import AutoTokenizer, BertForMaskedLM

from lm_eval_mdlm.default_model import default_checkpoint
from lm_eval_mdlm.default_model.data import Sampler
from lm_eval_mdlm.default_model.recipe import RECIPE
from lm_eval_mdlm.default_model.train import batch_tensors, logits_from, token_mean_loss, training_mask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(RECIPE.threads)
    tokenizer = AutoTokenizer.from_pretrained(default_checkpoint())
    sampler, rng = Sampler(tokenizer), random.Random(0)
    drawn = [sampler("all+waiting_line", rng, RECIPE.batch_size) for _ in range(args.batches + 2)]
    batches = [(examples, *batch_tensors(tokenizer, examples, RECIPE.answer_length)) for examples in drawn]
    model = BertForMaskedLM.from_pretrained(default_checkpoint()).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-6)
    generator = torch.Generator().manual_seed(0)
    forwards = {"eager": lambda *a: logits_from(model, *a),
                "compiled": torch.compile(lambda *a: logits_from(model, *a), dynamic=True)}

    def step(mode: str, batch: tuple) -> float:
        examples, ids, attention, answers = batch
        start = time.perf_counter()
        tokens = torch.cat([ids, answers], 1)
        noisy, masked, _, _ = training_mask(tokenizer, examples, tokens, attention, ids.shape[1], RECIPE, generator)
        logits = forwards[mode](noisy, attention, ids.shape[1])
        loss = token_mean_loss(logits, answers, masked[:, ids.shape[1]:])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        return time.perf_counter() - start

    for batch in batches[:2]:  # warm-up: compilation (static and dynamic shapes) and allocator
        for mode in forwards:
            step(mode, batch)
    times: dict[str, list[float]] = {mode: [] for mode in forwards}
    for batch in batches[2:]:
        for mode in forwards:
            times[mode].append(step(mode, batch))
    ratios = [c / e for c, e in zip(times["compiled"], times["eager"])]
    padding = statistics.mean((attention[:, :ids.shape[1]] == 0).float().mean().item()
                              for _, ids, attention, _ in batches)
    print(f"compiled / eager step time: median {statistics.median(ratios):.2f} "
          f"(pairs {min(ratios):.2f}-{max(ratios):.2f}, {len(ratios)} batches)")
    print(f"left padding: {100 * padding:.0f} % of prompt positions")


if __name__ == "__main__":
    main()
