"""Engine benchmarks on one tiny random-weight model, measured side by side in one run.

Prints ratios (never bare times, which are noisy on shared machines):

1. decode-loop overhead: time outside the model forward / time inside it, per strategy;
2. throughput: 16 requests at batch size 16 vs batch size 1 (requests/s ratio);
3. early exit: forwards with early exit at EOS vs forwards without it, and that outputs agree.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_engine.py [--repeats 5] [--parts 1,2,3]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import load_denoiser
from tests.fixtures.tiny import build_tiny_model

PROMPTS = [f"Question {i}: copy the list [{', '.join(str(j) for j in range(i % 7 + 2))}]" for i in range(16)]


class TimedForward:
    """Wraps a denoiser and accumulates the wall time spent inside model forwards."""

    def __init__(self, denoiser) -> None:
        self.denoiser, self.seconds, self.calls = denoiser, 0.0, 0

    def __call__(self, ids: torch.Tensor, attention: torch.Tensor, **kwargs) -> torch.Tensor:
        start = time.perf_counter()
        out = self.denoiser(ids, attention, **kwargs)  # window= when the loop asks for window logits only
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return out

    def __getattr__(self, name: str):
        return getattr(self.denoiser, name)


def run(forward, prompts: list[list[int]], cfg: DecodeConfig, length: int, batch_size: int,
        eos_ids: tuple[int, ...]) -> tuple[float, list]:
    keys = row_keys(prompts, cfg.seed)
    start, outs = time.perf_counter(), []
    for b in range(0, len(prompts), batch_size):
        outs.append(denoise(forward, prompts[b:b + batch_size], cfg, make_schedule(cfg, length),
                            mask_id=forward.mask_id, pad_id=forward.pad_id, eos_ids=eos_ids,
                            keys=keys[b:b + batch_size], device=torch.device("cpu")))
    return time.perf_counter() - start, outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--eos_bias", type=float, default=12.0, help="logit bias towards EOS in part 3")
    parser.add_argument("--parts", default="1,2,3", help="which parts to run, e.g. 1 for the loop overhead only")
    args = parser.parse_args()
    parts = {int(p) for p in args.parts.split(",")}
    torch.set_num_threads(1)
    folder = build_tiny_model(tempfile.mkdtemp(), hidden=128, layers=4, init_std=0.5)
    denoiser = load_denoiser(folder)
    prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS]
    print(f"model: random BERT, hidden 128, 4 layers, vocab {len(denoiser.tokenizer)}; "
          f"{len(prompts)} prompts, answer length {args.length}, {args.repeats} repeats, 1 thread\n")

    if 1 in parts:
        overhead(denoiser, prompts, args)
    if 2 in parts:
        throughput(denoiser, prompts, args)
    if 3 in parts:
        early_exit(denoiser, prompts, args)


def overhead(denoiser, prompts: list[list[int]], args: argparse.Namespace) -> None:
    """Part 1: time outside the model forward / time inside it, per strategy, at batch 16."""
    print("1. decode-loop overhead (time outside forwards / time inside forwards), batch 16")
    for name, cfg in [("topk k=1 confidence", DecodeConfig()), ("topk k=4 margin", DecodeConfig(k=4, score="margin")),
                      ("threshold 0.9", DecodeConfig(strategy="threshold")),
                      ("factor 1.0, blocks of 16", DecodeConfig(strategy="factor", block_length=16)),
                      ("topk k=2, temperature 1", DecodeConfig(k=2, temperature=1.0))]:
        ratios = []
        for _ in range(args.repeats):
            timed = TimedForward(denoiser)
            total, _ = run(timed, prompts, cfg, args.length, 16, ())
            ratios.append((total - timed.seconds) / timed.seconds)
        print(f"   {name:28s} overhead {100 * statistics.median(ratios):6.1f}% of forward time "
              f"(min {100 * min(ratios):.1f}%, max {100 * max(ratios):.1f}%)")


def throughput(denoiser, prompts: list[list[int]], args: argparse.Namespace) -> None:
    """Part 2: requests/s at batch 16 over batch 1."""
    print("\n2. throughput, 16 requests, topk k=1: batch 16 vs batch 1 (pairs run back to back)")
    speedups = []
    for _ in range(args.repeats):
        one, _ = run(denoiser, prompts, DecodeConfig(), args.length, 1, ())
        sixteen, _ = run(denoiser, prompts, DecodeConfig(), args.length, 16, ())
        speedups.append(one / sixteen)
    print(f"   requests/s ratio bs16 / bs1: median {statistics.median(speedups):.2f}x "
          f"(min {min(speedups):.2f}x, max {max(speedups):.2f}x)")


def early_exit(denoiser, prompts: list[list[int]], args: argparse.Namespace) -> None:
    """Part 3: forwards saved by leaving the batch at EOS, and that answers up to EOS do not change."""
    print("\n3. forwards saved by early exit at EOS (model biased towards EOS late in the answer)")
    eos = denoiser.eos_ids
    with torch.no_grad():
        denoiser.model.get_output_embeddings().bias[eos[0]] += args.eos_bias
    for name, cfg in [("topk k=1", DecodeConfig()), ("threshold 0.9", DecodeConfig(strategy="threshold"))]:
        _, with_exit = run(denoiser, prompts, cfg, args.length, 16, eos)
        _, without = run(denoiser, prompts, cfg, args.length, 16, ())
        nfe_exit = sum(int(o.nfe.sum()) for o in with_exit)
        nfe_full = sum(int(o.nfe.sum()) for o in without)
        same = all(_until_eos(a, eos) == _until_eos(b, eos)
                   for oa, ob in zip(with_exit, without) for a, b in zip(oa.answer.tolist(), ob.answer.tolist()))
        print(f"   {name:14s} row-forwards with exit / without: {nfe_exit}/{nfe_full} = "
              f"{nfe_exit / nfe_full:.2f} (saved {100 * (1 - nfe_exit / nfe_full):.0f}%); "
              f"answers up to EOS identical: {same}")


def _until_eos(tokens: list[int], eos: tuple[int, ...]) -> list[int]:
    for i, t in enumerate(tokens):
        if t in eos:
            return tokens[:i + 1]
    return tokens


if __name__ == "__main__":
    main()
