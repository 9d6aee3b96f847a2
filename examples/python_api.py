"""Evaluate an MDLM from Python with lm-eval's ``simple_evaluate`` and read its decoding traces.

Run: ``python examples/python_api.py [<model folder or hub id> [<task>]]``; with no arguments it runs the
shipped default model on one of our generated ParallelBench tasks (the Waiting Line's copy operation).
"""

from __future__ import annotations

import sys

import lm_eval

model_args = "strategy=threshold,threshold=0.9" + (f",pretrained={sys.argv[1]}" if len(sys.argv) > 1 else "")
task = sys.argv[2] if len(sys.argv) > 2 else "parallelbench_waiting_line_copy_gen"
results = lm_eval.simple_evaluate(model="mdlm", model_args=model_args, tasks=[task], limit=4,
                                  apply_chat_template=True, fewshot_as_multiturn=True)
print("task metrics:", results["results"][task])
print("decoding traces (means over samples):", results["config"]["mdlm"]["decoding_traces"][task])
