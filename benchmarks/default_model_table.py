"""Accuracy of the default model on Waiting Line (generated, n = 3..6) as parallelism grows.

Runs lm-eval's Python API with ``--model mdlm`` (default model, chat template, one-shot) over the ten
Waiting Line operations for top-k with k tokens per step and for confidence thresholds, and prints a
Markdown table of accuracy with the measured tokens per step: docs/default_model.md's table. ParallelBench's
qualitative findings to look for: copy / replace_index stay flat as k grows while shuffle and
replace_random fall; a threshold beats top-k at equal tokens per step.

Run: ``OMP_NUM_THREADS=2 python benchmarks/default_model_table.py [--limit 100] [--pretrained DIR]``.
"""

from __future__ import annotations

import argparse
import logging

import lm_eval

from research.default_model.data import WAITING_LINE_OPS

SETTINGS = [("top-k k=1", "k=1"), ("top-k k=2", "k=2"), ("top-k k=4", "k=4"),
            ("threshold 0.9", "strategy=threshold,threshold=0.9"),
            ("threshold 0.7", "strategy=threshold,threshold=0.7"),
            ("threshold 0.5", "strategy=threshold,threshold=0.5")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--pretrained", default=None, help="model folder (default: the shipped default model)")
    parser.add_argument("--batch_size", type=int, default=16)
    args = parser.parse_args()
    logging.getLogger("lm-eval").setLevel(logging.WARNING)
    tasks = [f"parallelbench_waiting_line_{op}_gen" for op in WAITING_LINE_OPS]
    base = f"pretrained={args.pretrained}," if args.pretrained else ""
    rows: dict[str, list[str]] = {op: [] for op in WAITING_LINE_OPS}
    per_step: list[str] = []
    for _, knobs in SETTINGS:
        out = lm_eval.simple_evaluate(model="mdlm", model_args=base + knobs, tasks=tasks, limit=args.limit,
                                      device="cpu", batch_size=args.batch_size, apply_chat_template=True,
                                      fewshot_as_multiturn=True)
        results = out["results"]
        for op, task in zip(WAITING_LINE_OPS, tasks):
            rows[op].append(f"{100 * results[task]['score,none']:.0f}")
        mean_tps = sum(results[t]["tokens_per_step,none"] for t in tasks) / len(tasks)
        per_step.append(f"{mean_tps:.2f}")
    print(f"Waiting Line (generated, n = 3..6), {args.limit} samples per operation, accuracy %\n")
    print("| operation | " + " | ".join(name for name, _ in SETTINGS) + " |")
    print("|---|" + "---:|" * len(SETTINGS))
    for op in WAITING_LINE_OPS:
        print(f"| {op} | " + " | ".join(rows[op]) + " |")
    print("| *tokens per step* | " + " | ".join(per_step) + " |")


if __name__ == "__main__":
    main()
