"""How decoding traces travel from the engine to lm-eval's outputs (no torch here).

lm-eval hands a task only the generated *string*, so traces take three channels:

1. **Per sample, our tasks**: ``generate_until`` returns :class:`TracedStr`, a ``str`` that carries
   its trace. Our tasks' ``process_results`` read it with :func:`trace_of` and report AFP, tau, NFE
   as ordinary per-sample metrics (they then appear in ``--log_samples`` files and the table).
2. **Per sample, any task**: every trace is kept in :data:`STORE` with its task name and doc id;
   the lm-eval hook writes them to ``mdlm_traces_<date>.jsonl`` next to lm-eval's results file
   (joinable with ``samples_<task>_<date>.jsonl`` on ``task_name`` + ``doc_id``), and the model
   writes them to ``trace_path`` when that model argument is given.
3. **Aggregated, any task**: :func:`summarize` means per task go into ``get_model_info()``, which
   lm-eval merges into ``results["config"]`` after evaluation.
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
    """Mean over the samples where a trace metric is defined (NaN if none is)."""
    mean = mean_defined(list(values))
    return float("nan") if mean is None else mean


CONFIDENCE_DECIMALS = 3
"""Commit confidences are stored rounded to 3 decimals: calibration bins never need more, and it keeps
trace files small (about 6 bytes per answer token; see docs/report.md for the size per 1k samples)."""


def compact_confidence(values: Iterable[float]) -> list[float]:
    """Commit confidences as written into a trace record (rounded; see :data:`CONFIDENCE_DECIMALS`)."""
    return [round(float(v), CONFIDENCE_DECIMALS) for v in values]


STORE: list[dict[str, Any]] = []
"""Trace records of this process, in the order requests were answered."""


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
