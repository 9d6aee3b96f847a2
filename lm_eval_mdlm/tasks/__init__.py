"""ParallelBench for lm-eval: task specs, data (official or generated offline), scoring and the task class.

Flow: ``task_yamls/parallelbench/**`` -> :mod:`.lm_task` (lm-eval task class) -> :mod:`.sources` (official
hub/local data or :mod:`.generate`) -> :mod:`.records` (flat documents) -> :mod:`.scoring` (metrics from
:mod:`lm_eval_mdlm.metrics` plus the decoding traces). See docs/parallelbench.md.
"""
