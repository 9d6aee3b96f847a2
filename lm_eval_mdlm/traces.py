"""How decoding traces travel from the engine to lm-eval's outputs (no torch here).

lm-eval hands a task only the generated *string*, so traces take three channels:

1. **Per sample, our tasks**: ``generate_until`` returns :class:`TracedStr`, a ``str`` that carries
   its trace. Our tasks' ``process_results`` read it with :func:`trace_of` and report AFP, tau, NFE
   as ordinary per-sample metrics (they then appear in ``--log_samples`` files and the table).
2. **Per sample, any task**: every trace is kept by the model that decoded it (``MDLM.traces``) with
   its task name and doc id; the lm-eval hook writes that model's records to ``mdlm_traces_<date>.jsonl``
   next to lm-eval's results file (joinable with ``samples_<task>_<date>.jsonl`` on ``task_name`` +
   ``doc_id``), and the model writes them to ``trace_path`` when that model argument is given.
3. **Aggregated, any task**: :func:`summarize` means per task go into ``get_model_info()``, which
   lm-eval merges into ``results["config"]`` after evaluation.

Undefined statistics (Kendall's tau of an answer committed in one step, AR-ness of a run that commits
several tokens per step) are never averaged in as NaN: :func:`tidy_results` drops a task's metric that
no sample defines, gives each group the mean over its defined samples, and adds ``<metric>_n`` (the
number of samples it is defined on) wherever that is not every sample.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from lm_eval_mdlm.metrics.decoding import RUN_METRICS, TRACE_METRICS, mean_defined


class TracedStr(str):
    """A generated answer that remembers how it was decoded (``.trace``); behaves as a ``str``."""

    trace: dict[str, Any] | None

    def __new__(cls, text: str = "", trace: dict[str, Any] | None = None) -> TracedStr:
        # ``trace`` is optional because lm-eval builds strings with ``type(response)(gold)``.
        obj = super().__new__(cls, text)
        obj.trace = trace
        return obj

    def __reduce__(self) -> tuple[Any, ...]:  # survives pickling (request caches, gathers)
        return (TracedStr, (str(self), self.trace))


def trace_of(response: Any) -> dict[str, Any] | None:
    """The trace of a response returned by ``--model mdlm``, or None for any other string."""
    return getattr(response, "trace", None)


def metric_values(response: Any) -> dict[str, float]:
    """Per-sample trace metrics for a task's ``process_results``; NaN where undefined.

    NaN (not a missing key) keeps every sample's metric dict the same shape, which lm-eval needs;
    :func:`nanmean` is the matching aggregation.
    """
    trace = trace_of(response) or {}
    metrics = trace.get("metrics", {})
    return {name: float("nan") if metrics.get(name) is None else float(metrics[name])
            for name in TRACE_METRICS}


def nanmean(values: Iterable[float]) -> float:
    """Mean over the samples where a trace metric is defined (NaN if none is: lm-eval needs a number here;
    :func:`tidy_results` then removes it from the results)."""
    mean = mean_defined(list(values))
    return float("nan") if mean is None else mean


CONFIDENCE_DECIMALS = 3
"""Commit confidences are stored rounded to 3 decimals: calibration bins never need more, and it keeps
trace files small (about 6 bytes per answer token; see docs/report.md for the size per 1k samples)."""


def compact_confidence(values: Iterable[float]) -> list[float]:
    """Commit confidences as written into a trace record (rounded; see :data:`CONFIDENCE_DECIMALS`)."""
    return [round(float(v), CONFIDENCE_DECIMALS) for v in values]


def summarize(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task: the mean of every trace metric over its samples, and the sample count."""
    by_task: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_task[str(record.get("task_name"))].append(record)
    summary = {}
    for task, rows in sorted(by_task.items()):
        summary[task] = {name: mean_defined([r["metrics"].get(name) for r in rows])
                         for name in RUN_METRICS}
        summary[task]["samples"] = len(rows)
    return summary


def write_jsonl(records: Iterable[Mapping[str, Any]], path: str) -> None:
    """Write trace records, one JSON object per line."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def tidy_results(results: dict[str, Any], records: Iterable[Mapping[str, Any]]) -> None:
    """Rewrite lm-eval's ``results`` in place so no trace statistic is NaN (see the module docstring).

    ``records`` are the evaluated model's traces: per task, a metric no sample defines is removed (with its
    stderr); one defined on fewer samples than the task has gains ``<metric>_n``. A group's trace metric becomes
    the mean over the defined samples of all its tasks where some sample is undefined (lm-eval's size-weighted
    mean over tasks, without the undefined samples), also with ``_n``; removed if none is defined."""
    by_task: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        by_task[str(record.get("task_name"))].append(record["metrics"])
    subtasks = results.get("group_subtasks", {})
    for table in (results.get("results", {}), results.get("groups", {})):
        for name, row in table.items():
            tasks = _leaf_tasks(name, subtasks)
            for key in [k for k in row if k.partition(",")[0] in TRACE_METRICS]:
                metric, _, filter_name = key.partition(",")
                values = [m.get(metric) for task in tasks for m in by_task.get(task, ())]
                defined = [v for v in values if v is not None]
                mean = mean_defined(defined)
                is_nan = isinstance(row[key], float) and row[key] != row[key]
                if mean is None and (values or is_nan):  # undefined on every sample of its tasks
                    del row[key]
                    row.pop(f"{metric}_stderr,{filter_name}", None)
                    continue
                stderr = f"{metric}_stderr,{filter_name}"
                if is_nan or (name in subtasks and len(defined) < len(values)):
                    row[key] = mean
                    row[stderr] = "N/A"  # lm-eval's pooled stderr of the task means no longer matches
                if isinstance(row.get(stderr), float) and row[stderr] != row[stderr]:
                    row[stderr] = "N/A"
                if len(defined) < len(values):
                    row[f"{metric}_n,{filter_name}"] = len(defined)


def _leaf_tasks(name: str, subtasks: Mapping[str, list[str]]) -> list[str]:
    """The tasks under a group (recursively), or the task itself."""
    if name not in subtasks:
        return [name]
    return [task for sub in subtasks[name] for task in _leaf_tasks(sub, subtasks)]
