"""Evaluate an MDLM from Python with lm-eval's ``simple_evaluate`` and read its decoding traces.

Run: ``python examples/python_api.py <model folder or hub id> <task>``; with no arguments it builds a
tiny random-weight model and runs one of our generated ParallelBench tasks (scores are meaningless
then; the point is the API).
"""

from __future__ import annotations

import sys
import tempfile

import lm_eval

from tests.fixtures.tiny import build_tiny_model

model = sys.argv[1] if len(sys.argv) > 1 else build_tiny_model(tempfile.mkdtemp())
task = sys.argv[2] if len(sys.argv) > 2 else "parallelbench_waiting_line_copy_gen"
results = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={model},strategy=threshold,threshold=0.9",
                                  tasks=[task], limit=4)
print("task metrics:", results["results"][task])
print("decoding traces (means over samples):", results["config"]["mdlm"]["decoding_traces"][task])
