"""The exact block cache of block-diffusion models (``cache=prefix``) against ``cache=none``.

SDAR- and LLaDA 2.x-style random-weight checkpoints in their real format (lm_eval_mdlm/families/
fixtures.py), loaded natively, big enough that the forward dominates (hidden 256, 4 layers; LLaDA 2.x:
8 experts, 2 per token). Four prompts of different lengths are decoded together (batch 4) in blocks
aligned to the prompt, with top-k (k tokens per step), to full length (no early exit at EOS). Modes run
interleaved within each repetition; we print median speed-ups (time of cache=none / time of
cache=prefix, paired within a repetition), NFE per row, the share of answer tokens and finalization
steps equal to cache=none's (the cache is exact, so 100%), and the largest difference between the two
modes' logits over every step (an extra, untimed run feeding both the same canvases).

``cache=none`` already feeds each row only up to the end of its current block (later positions cannot
influence it); the cache additionally skips the finished blocks, so its gain grows with the prompt and
the answer length.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_block_cache.py [--repeats 3] [--k 4] [--block_length 32]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.loop import DecodeOutput, denoise
from lm_eval_mdlm.decoding.noise import row_keys
from lm_eval_mdlm.decoding.schedule import make_schedule
from lm_eval_mdlm.families import load_denoiser
from lm_eval_mdlm.families.spec import left_positions
from tests.fixtures.families import build_tiny_llada2, build_tiny_sdar

from bench_cache import time_interleaved  # benchmarks/ is on sys.path when a script here runs

PROMPTS = ["Copy the list: [1, 2, 3]",
           "The quick brown fox jumps over the lazy dog. Question: what did the fox jump over? Answer in one word.",
           "hello world",
           "Alice Smith, Bob Jones and Carol White went to the market. Question: who went to the market?"]
MODES = ("none", "prefix")


class LogitGap:
    """A block-causal model whose cached forward also runs the uncached one (untimed run) and records the
    largest logit difference at the window slots inside each row's block."""

    block_causal = True

    def __init__(self, denoiser) -> None:
        self.denoiser, self.gap = denoiser, 0.0

    def check_cache(self, mode: str) -> None:
        self.denoiser.check_cache(mode)

    def block_cache(self, mode: str, batch: int, block_length: int):
        cached = self.denoiser.block_cache("prefix", batch, block_length)
        plain = self.denoiser.block_cache("none", batch, block_length)

        def step(x, attention, rows, window, refresh):
            got, exact = cached(x, attention, rows, window, refresh), plain(x, attention, rows, window, refresh)
            blocks = left_positions(attention[rows]).gather(1, window) // block_length
            self.gap = max(self.gap, float((got - exact).abs()[blocks == blocks[:, :1]].max()))
            return got

        return step


def decode(denoiser, prompts: list[list[int]], mode: str, args: argparse.Namespace,
           model=None) -> tuple[float, DecodeOutput]:
    """Decode with ``denoiser`` (or ``model`` wrapping it) and time it."""
    cfg = DecodeConfig(k=args.k, block_length=args.block_length, cache=mode)
    start = time.perf_counter()
    out = denoise(model or denoiser, prompts, cfg, make_schedule(cfg, args.length, aligned=True),
                  mask_id=denoiser.mask_id, pad_id=denoiser.pad_id, eos_ids=(), keys=row_keys(prompts, cfg.seed),
                  device=torch.device("cpu"))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=4, help="tokens committed per step")
    parser.add_argument("--length", type=int, default=256)
    parser.add_argument("--block_length", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = tempfile.mkdtemp()
    models = {"sdar": build_tiny_sdar(f"{folder}/sdar", hidden=256, layers=4, heads=4, kv_heads=2, head_dim=64,
                                      scale=1.0),
              "llada2": build_tiny_llada2(f"{folder}/llada2", hidden=256, layers=4, heads=4, kv_heads=2,
                                          head_dim=64, scale=1.0)}
    print(f"answer length {args.length}, block_length {args.block_length}, top-k k={args.k}, batch "
          f"{len(PROMPTS)}, {args.repeats} interleaved repeats, 1 thread\n")
    print("| family | speed-up of cache=prefix vs none (median; min-max) | NFE per row (none / prefix) "
          "| answer tokens and steps equal to cache=none | largest logit difference |")
    print("|---|---|---|---|---|")
    for family, path in models.items():
        denoiser = load_denoiser(path)
        prompts = [denoiser.tokenizer(p).input_ids for p in PROMPTS]
        times, outs = time_interleaved(decode, denoiser, prompts, MODES, args)
        speedups = [none / cached for none, cached in zip(times["none"], times["prefix"])]
        gap = LogitGap(denoiser)
        decode(denoiser, prompts, "prefix", args, model=gap)
        same = (outs["prefix"].answer == outs["none"].answer) & \
            (outs["prefix"].finalized_at == outs["none"].finalized_at)
        lengths = sorted(len(p) for p in prompts)
        nfe = "/".join(str(sorted(set(outs[m].nfe.tolist()))) for m in MODES)
        print(f"| {family} (prompts {lengths[0]}-{lengths[-1]} tokens) | {statistics.median(speedups):.2f}x; "
              f"{min(speedups):.2f}-{max(speedups):.2f} | {nfe} | {100 * same.float().mean().item():.1f}% | "
              f"{gap.gap:.1e} |")


if __name__ == "__main__":
    main()
