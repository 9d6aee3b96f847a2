"""The README's main job: ParallelBench's Waiting Line (offline-generated data) through the stock CLI.

It shells out to ``python -m lm_eval`` exactly as a user would, so it exercises registration, task
discovery, generation, scoring and decoding traces end to end, offline, and prints lm-eval's table.
It evaluates the shipped default model (``--pretrained`` picks another).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from lm_eval_mdlm.default_model import default_checkpoint

DEFAULT_TASKS = "parallelbench_waiting_line_gen"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", help="model folder or hub id (default: the shipped default model)")
    parser.add_argument("--tasks", default=DEFAULT_TASKS)
    parser.add_argument("--model_args", default="strategy=threshold,threshold=0.9",
                        help="extra --model_args besides pretrained")
    parser.add_argument("--limit", default="20")
    parser.add_argument("--output_path", default="out/main_job")
    args = parser.parse_args(argv)
    pretrained = args.pretrained or default_checkpoint()
    model_args = ",".join(filter(None, [f"pretrained={pretrained}", args.model_args]))
    command = [sys.executable, "-m", "lm_eval", "--model", "mdlm", "--model_args", model_args,
               "--tasks", args.tasks, "--limit", args.limit, "--device", "cpu", "--batch_size", "8",
               "--apply_chat_template", "--fewshot_as_multiturn", "--log_samples", "--output_path", args.output_path]
    print("+", " ".join(command), flush=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
