"""Window-only LM head vs full-canvas logits, side by side in one run, at LLaDA's vocabulary size.

A tiny random Llama (LLaDA's native module: 1 layer, hidden 64) with a 126,464-token vocabulary decodes 8
prompts of 512 tokens (answer 32, one block, k=8: 4 forwards) twice, each in its own process: once computing
logits for every position and gathering the block (the path before the window head), once projecting only the
block's positions (``logits_to_keep``). Prints the ratios of peak memory above the loaded model (the process's
peak RSS minus its RSS before decoding), of the logits tensor one forward materialises, and of wall time, and
whether the tokens agree.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_window_head.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import statistics
import time

VOCAB, HIDDEN, PROMPT, BATCH, LENGTH = 126_464, 64, 512, 8, 32


def _rss_kib() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() // 1024


def _decode(window_head: bool, queue: mp.Queue) -> None:
    """One path in a fresh process: (peak KiB above the loaded model, seconds, logits bytes per forward, tokens)."""
    import torch
    import transformers

    from lm_eval_mdlm.config import DecodeConfig
    from lm_eval_mdlm.decoding.loop import denoise
    from lm_eval_mdlm.decoding.noise import row_keys
    from lm_eval_mdlm.decoding.schedule import make_schedule
    from lm_eval_mdlm.families import FAMILIES, Denoiser

    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=2 * HIDDEN,
                                      num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=4,
                                      max_position_embeddings=1024)
    model = transformers.LlamaForCausalLM(config).eval()
    mask_id, eos = 126_336, 126_081
    denoiser = Denoiser(model, None, mask_id, (eos,), eos, 1024, FAMILIES["llada"])
    denoiser._keep = window_head
    sizes: list[int] = []
    model.get_output_embeddings().register_forward_hook(lambda m, a, out: sizes.append(out.numel() * 4))
    gen = torch.Generator().manual_seed(1)
    prompts = torch.randint(0, 126_000, (BATCH, PROMPT), generator=gen).tolist()
    cfg = DecodeConfig(k=8)
    base = _rss_kib()
    start = time.perf_counter()
    out = denoise(denoiser, prompts, cfg, make_schedule(cfg, LENGTH), mask_id=mask_id, pad_id=eos, eos_ids=(),
                  keys=row_keys(prompts, 0), device=torch.device("cpu"))
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((peak - base, seconds, max(sizes), out.answer.tolist()))


def _run(window_head: bool) -> tuple[int, float, int, list]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_decode, args=(window_head, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"random Llama, 1 layer, hidden {HIDDEN}, vocab {VOCAB}; batch {BATCH}, prompts {PROMPT}, answer {LENGTH} "
          f"(k=8: 4 forwards); {args.repeats} repeats, 1 thread, each path in its own process\n")
    memory, time_ratio, same = [], [], True
    for _ in range(args.repeats):
        full, window = _run(False), _run(True)
        memory.append(full[0] / max(window[0], 1))
        time_ratio.append(full[1] / window[1])
        same &= full[3] == window[3]
        logits = (full[2], window[2])
    print(f"peak memory above the loaded model, full / window: median {statistics.median(memory):.1f}x "
          f"(min {min(memory):.1f}x, max {max(memory):.1f}x)")
    print(f"logits of one forward, full / window: {logits[0] / 2**20:.0f} MiB / {logits[1] / 2**20:.0f} MiB = "
          f"{logits[0] / logits[1]:.1f}x")
    print(f"wall time, full / window: median {statistics.median(time_ratio):.2f}x "
          f"(min {min(time_ratio):.2f}x, max {max(time_ratio):.2f}x)")
    print(f"tokens identical: {same}")


if __name__ == "__main__":
    main()
