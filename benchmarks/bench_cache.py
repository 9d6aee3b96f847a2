"""KV caching (``cache=prefix|dual``) against ``cache=none`` on tiny LLaDA- and Dream-style models.

Both models are random-weight checkpoints in their family's real format (lm_eval_mdlm/families/
fixtures.py), loaded natively, big enough that the forward dominates (hidden 256, 4 layers). Four
prompts of different lengths are decoded together (batch 4) to 256 tokens in blocks of 32 with top-k
(k tokens per step), to full length (no early exit at EOS, so every mode decodes the same tokens).
Modes run interleaved within each repetition; we print median speed-ups (time of cache=none / time of
the mode, paired within a repetition), NFE per row, how often a cached step's top-1 token equals the
exact forward's on the same canvas (an extra, untimed run), the share of answer tokens equal to
cache=none's and where the first difference falls. Random weights say little about agreement on
trained models (Fast-dLLM's premise is that their keys/values change little within a block): with a
larger ``--scale`` the random model turns chaotic and agreement collapses; one changed token then
changes everything decoded after it.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_cache.py [--repeats 3] [--k 4] [--scale 1.0]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import DecodeOutput, denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import load_denoiser
from tests.fixtures.families import build_tiny_dream, build_tiny_llada

PROMPTS = ["Copy the list: [1, 2, 3]",
           "The quick brown fox jumps over the lazy dog. Question: what did the fox jump over? Answer in one word.",
           "hello world",
           "Alice Smith, Bob Jones and Carol White went to the market. Question: who went to the market?"]
MODES = ("none", "prefix", "dual")


class StepFidelity:
    """A denoiser whose block cache also runs the exact forward on every cached step (untimed run).

    It counts, over the masked positions of the window, how often the cached step's top-1 token equals
    the exact forward's on the same canvas: the per-step quality of the approximation, before errors
    compound into different answers.
    """

    def __init__(self, denoiser) -> None:
        self.denoiser, self.same, self.total = denoiser, 0, 0

    def __call__(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        return self.denoiser(ids, attention)

    def __getattr__(self, name: str):
        return getattr(self.denoiser, name)  # mask_id, pad_id, ...

    def check_cache(self, mode: str) -> None:
        self.denoiser.check_cache(mode)

    def block_cache(self, mode: str, batch: int):
        cache = self.denoiser.block_cache(mode, batch)

        def step(x, attention, rows, window, refresh):
            got = cache(x, attention, rows, window, refresh)
            exact = self.denoiser(x[rows], attention[rows])
            exact = exact.gather(1, window[:, :, None].expand(-1, -1, exact.shape[-1]))
            counted = (x[rows].gather(1, window) == self.denoiser.mask_id) & ~refresh[:, None]
            self.same += int(((got.argmax(-1) == exact.argmax(-1)) & counted).sum())
            self.total += int(counted.sum())
            return got

        return step


def decode(denoiser, prompts: list[list[int]], mode: str, args: argparse.Namespace) -> tuple[float, DecodeOutput]:
    cfg = DecodeConfig(k=args.k, block_length=args.block_length, cache=mode)
    start = time.perf_counter()
    out = denoise(denoiser, prompts, cfg, make_schedule(cfg, args.length), mask_id=denoiser.mask_id,
                  pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, cfg.seed), device=torch.device("cpu"))
    return time.perf_counter() - start, out


def time_interleaved(decode: Callable[..., tuple[float, DecodeOutput]], denoiser: Any, prompts: list[list[int]],
                     modes: tuple[str, ...], args: argparse.Namespace
                     ) -> tuple[dict[str, list[float]], dict[str, DecodeOutput]]:
    """Seconds per repeat and the last output of each cache mode, modes interleaved within every repeat
    (so machine noise hits them alike), after one warm-up run."""
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    outs: dict[str, DecodeOutput] = {}
    decode(denoiser, prompts, modes[0], args)
    for _ in range(args.repeats):
        for mode in modes:
            seconds, outs[mode] = decode(denoiser, prompts, mode, args)
            times[mode].append(seconds)
    return times, outs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=4, help="tokens committed per step")
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--block_length", type=int, default=32)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="weight scale of the random models (the test fixtures use 3: sharper, more chaotic)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = tempfile.mkdtemp()
    models = {"llada": build_tiny_llada(f"{folder}/llada", hidden=256, layers=4, heads=4, scale=args.scale),
              "dream": build_tiny_dream(f"{folder}/dream", hidden=256, layers=4, heads=4, kv_heads=2,
                                        scale=args.scale)}
    print(f"answer length {args.length}, block_length {args.block_length}, top-k k={args.k}, batch "
          f"{len(PROMPTS)}, weight scale {args.scale}, {args.repeats} interleaved repeats, 1 thread\n")
    print("| family | cache | speed-up vs none (median; min-max) | NFE per row | cached-step top-1 = exact "
          "| answer tokens equal to cache=none | first differing position (mean) |")
    print("|---|---|---|---|---|---|---|")
    for family, path in models.items():
        denoiser = load_denoiser(path)
        prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS]
        times, outs = time_interleaved(decode, denoiser, prompts, MODES, args)
        lengths = sorted(len(p) for p in prompts)
        for mode in MODES:
            speedups = [none / t for none, t in zip(times["none"], times[mode])]
            fidelity = StepFidelity(denoiser)
            decode(fidelity, prompts, mode, args)
            top1 = f"{100 * fidelity.same / fidelity.total:.1f}%" if fidelity.total else "-"
            equal = outs[mode].answer == outs["none"].answer
            # answer position of each row's first token that differs from cache=none (length if none)
            first_diff = torch.where(equal.all(1), args.length, (~equal).long().argmax(1)).float().mean().item()
            nfe = sorted(set(outs[mode].nfe.tolist()))
            print(f"| {family} (prompts {lengths[0]}-{lengths[-1]} tokens) | {mode} | "
                  f"{statistics.median(speedups):.2f}x; {min(speedups):.2f}-{max(speedups):.2f} | "
                  f"{'/'.join(map(str, nfe))} | {top1} | {100 * equal.float().mean().item():.1f}% | {first_diff:.1f} |")


if __name__ == "__main__":
    main()
