"""Read lm-eval output folders into one record per (results file, task): :class:`TaskRun`.

What a ``--model mdlm`` run writes (``--output_path OUT --log_samples``), all in ``OUT/<model>/``:
``results_<date>.json`` (scores, ``config.mdlm`` with the decoding config and per-task trace means,
``configs.<task>.generation_kwargs`` with the ``--gen_kwargs`` overrides merged in),
``samples_<task>_<date>.jsonl`` (per-sample metrics) and ``mdlm_traces_<date>.jsonl`` (per request:
finalization steps, metrics and the effective decoding config). Only the results file is required;
the others add per-sample analyses (correctness split, oracle, heat map).

The effective setting of a task is read from its trace records (what the engine really used); without
traces it is rebuilt the way the model does it: the model's decode config updated by the task's
``generation_kwargs``.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lm_eval_mdlm.metrics.decoding import RUN_METRICS
from lm_eval_mdlm.report import ReportError
from lm_eval_mdlm.report.settings import Setting, infer_primary, setting_of

TRACE_COLUMNS = ("nfe", "row_forwards", "tokens_per_step", "afp", "kendall_tau")
AUTOREGRESSIVE = Setting("autoregressive", None, None, (("AFP, tau", "1 by construction"),))
_NOT_SCORES = {"alias", "name", "sample_len", "samples"}


@dataclass
class Sample:
    """One document of one run: its score and decoding metrics, and how its answer was decoded."""

    doc_id: int
    score: float | None = None
    tokens_per_step: float | None = None
    afp: float | None = None
    kendall_tau: float | None = None
    nfe: float | None = None
    row_forwards: float | None = None  # rows run: nfe unless a forward verified several drafts (psd)
    steps: list[int] | None = None  # finalization step of each answer position (first trace record)
    confidence: list[float] | None = None  # commit confidence of each answer position (first trace record)
    response: str | None = None  # the model's answer as lm-eval logged it (``resps``), before filters
    doc: dict[str, Any] | None = None  # the task's document (``--log_samples``)
    target: Any = None


@dataclass
class TaskRun:
    """One task of one results file: where it lies on the speed–quality plane."""

    model: str
    task: str
    setting: Setting
    score: float | None
    metrics: dict[str, float | None]
    samples: dict[int, Sample] = field(default_factory=dict)
    score_key: str = "score,none"
    source: str = ""
    date: str = ""
    autoregressive: bool = False  # a non-mdlm (e.g. --model hf) run: AFP = tau = 1 by construction


def _number(value: Any) -> float | None:
    """A finite float, or None (lm-eval writes "N/A" stderrs and NaN for undefined means)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and not math.isnan(float(value)):
        return float(value)
    return None


def find_results(folders: Sequence[str | Path], skip: Iterable[Path] = ()) -> list[Path]:
    """Every ``results_*.json`` under the folders (recursively), outside ``skip`` and hidden folders."""
    skipped = [Path(s).resolve() for s in skip]
    found: list[Path] = []
    seen: set[Path] = set()
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise ReportError(f"{root} is not a folder: give the --output_path of an lm-eval run or a sweep.")
        for path in sorted(root.rglob("results_*.json")):
            resolved = path.resolve()
            if any(resolved.is_relative_to(s) for s in skipped) or resolved in seen:
                continue  # the report's own folder; a file reached through two given folders
            if any(part.startswith(".") for part in path.relative_to(root).parts[:-1]):
                continue  # e.g. a sweep's .partial staging folders
            seen.add(resolved)
            found.append(path)
    if not found:
        names = ", ".join(str(f) for f in folders)
        raise ReportError(
            f"no lm-eval results (results_*.json) under {names}. Point report at the --output_path of "
            "`lm_eval --model mdlm ... --output_path DIR --log_samples` or of `lm-eval-mdlm sweep`.")
    return found


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} cannot be read as JSON ({exc}); remove it or re-run that evaluation.") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict) \
            or not isinstance(data.get("config"), dict):
        raise ReportError(f"{path} is not an lm-eval results file (no 'results' and 'config' sections).")
    return data


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    raise ReportError(f"{path} line {number} is not JSON (a run cut short?); "
                                      "re-run that evaluation or remove the file.") from None
    return rows


def leaf_tasks(results: Mapping[str, Any]) -> list[str]:
    """Task names of a results file, without the groups (whose entries are aggregates)."""
    groups = {g for g, subtasks in (results.get("group_subtasks") or {}).items() if subtasks}
    return sorted(t for t in results["results"] if t not in groups)


def _is_trace_metric(name: str) -> bool:
    """A decoding-trace metric, or the count of samples defining one (``<metric>_n``), never a task's score."""
    return name in RUN_METRICS or (name.endswith("_n") and name[:-2] in RUN_METRICS)


def resolve_score_key(task: str, entry: Mapping[str, Any], metric: str, where: Path) -> str:
    """The ``metric,filter`` key that is the task's score; an error lists the candidates if unclear."""
    name, _, wanted_filter = metric.partition(",")
    keys = [k for k in entry if "," in k and "_stderr" not in k.split(",")[0] and k.split(",")[0] == name]
    if wanted_filter:
        keys = [k for k in keys if k.split(",", 1)[1] == wanted_filter]
    if len(keys) > 1 and f"{name},none" in keys:
        keys = [f"{name},none"]
    if len(keys) == 1:
        return keys[0]
    candidates = sorted(k for k in entry if "," in k and "_stderr" not in k and not _is_trace_metric(k.split(",")[0]))
    if not keys and metric == "score" and len(candidates) == 1:
        return candidates[0]  # a task with one metric (e.g. exact_match): that is its score
    raise ReportError(
        f"task {task} in {where} has {'several' if keys else 'no'} metric keys for --metric {metric}; "
        f"its metrics are: {', '.join(candidates) or '(none)'}. Choose one with --metric NAME or "
        "--metric NAME,FILTER (e.g. --metric exact_match,strict-match).")


def _rebuilt_config(data: Mapping[str, Any], task: str) -> dict[str, Any]:
    """The effective config as the model builds it: model_args config updated by the task's gen kwargs
    (``do_sample`` changes nothing: temperature alone decides sampling, see ``config.split_gen_kwargs``)."""
    from lm_eval_mdlm.config import ConfigError, coerce

    config = dict(data["config"]["mdlm"].get("decode_config") or {})
    gen_kwargs = dict((data.get("configs") or {}).get(task, {}).get("generation_kwargs") or {})
    for key, value in gen_kwargs.items():
        if key in config:
            try:
                config.update(coerce({key: value}))
            except ConfigError:
                config[key] = value
    return config


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != "max_gen_toks"}


def _task_traces(records: list[dict[str, Any]], task: str, data: Mapping[str, Any],
                 where: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """This task's trace records and its effective config (the traces' own, checked to be one)."""
    mine = [r for r in records if r.get("task_name") == task]
    configs = {json.dumps(_comparable(r.get("config") or {}), sort_keys=True) for r in mine}
    if len(configs) <= 1:
        return mine, (mine[0]["config"] if mine else _rebuilt_config(data, task))
    # Several decoding configs for one task: traces of several evaluations in one process. Keep those
    # matching the config the results file itself implies.
    expected = json.dumps(_comparable(_rebuilt_config(data, task)), sort_keys=True)
    kept = [r for r in mine if json.dumps(_comparable(r.get("config") or {}), sort_keys=True) == expected]
    if not kept:
        raise ReportError(f"the traces next to {where} hold {len(configs)} different decoding configs for task "
                          f"{task} and none matches its results file; remove that mdlm_traces file or re-run.")
    return kept, kept[0]["config"]


def _samples(task: str, folder: Path, date: str, records: list[dict[str, Any]],
             score_key: str) -> dict[int, Sample]:
    """Per-document rows: ``--log_samples`` metrics joined with the trace records on ``doc_id``."""
    out: dict[int, Sample] = {}
    by_doc: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("doc_id") is not None:
            by_doc[int(record["doc_id"])].append(record)
    for doc_id, recs in by_doc.items():
        metrics = [r.get("metrics") or {} for r in recs]
        means = {}
        for name in TRACE_COLUMNS:
            values = [v for v in (_number(m.get(name)) for m in metrics) if v is not None]
            means[name] = sum(values) / len(values) if values else None
        confidence = recs[0].get("commit_confidence")
        out[doc_id] = Sample(doc_id, steps=[int(s) for s in recs[0].get("finalization_steps") or []],
                             confidence=[float(c) for c in confidence] if confidence is not None else None, **means)
    path = folder / f"samples_{task}_{date}.jsonl"
    if path.exists():
        name, _, filter_name = score_key.partition(",")
        for row in _read_jsonl(path):
            if row.get("filter", "none") != filter_name or row.get("doc_id") is None:
                continue
            sample = out.setdefault(int(row["doc_id"]), Sample(int(row["doc_id"])))
            sample.score = _number(row.get(name))
            sample.response, sample.doc, sample.target = _first_response(row), row.get("doc"), row.get("target")
            for column in TRACE_COLUMNS:
                if _number(row.get(column)) is not None:
                    setattr(sample, column, _number(row.get(column)))
    return out


def _first_response(row: Mapping[str, Any]) -> str | None:
    """The first generated string of a ``--log_samples`` row (``resps`` is [[text], ...] for generation)."""
    resps = row.get("resps")
    while isinstance(resps, list) and resps:
        resps = resps[0]
    return resps if isinstance(resps, str) else None


def _model_label(data: Mapping[str, Any]) -> str:
    """The model's identity: its full ``pretrained`` (two checkpoints named alike must not merge)."""
    return str(data["config"]["mdlm"].get("pretrained") or data["config"].get("model_args") or "?")


def read_results_file(path: Path, metric: str = "score",
                      tasks: Sequence[str] | None = None) -> list[TaskRun]:
    """The task runs of one results file (only ``tasks`` if given)."""
    data = _read_json(path)
    config = data["config"]
    if not isinstance(config.get("mdlm"), dict):
        return read_autoregressive_file(path, data, metric, tasks)
    date = path.stem.removeprefix("results_")
    trace_path = path.parent / f"mdlm_traces_{date}.jsonl"
    records = _read_jsonl(trace_path) if trace_path.exists() else []
    means = config["mdlm"].get("decoding_traces") or {}
    runs = []
    for task in leaf_tasks(data):
        if tasks is not None and task not in tasks:
            continue
        entry = data["results"][task]
        score_key = resolve_score_key(task, entry, metric, path)
        task_records, effective = _task_traces(records, task, data, path)
        metrics = {name: _number(entry.get(f"{name},none")) if _number(entry.get(f"{name},none")) is not None
                   else _number((means.get(task) or {}).get(name)) for name in TRACE_COLUMNS}
        count = _number((data.get("n-samples") or {}).get(task, {}).get("effective"))
        metrics["samples"] = None if count is None else int(count)  # type: ignore[assignment]
        runs.append(TaskRun(model=_model_label(data), task=task, setting=setting_of(effective),
                            score=_number(entry.get(score_key)), metrics=metrics,
                            samples=_samples(task, path.parent, date, task_records, score_key),
                            score_key=score_key, source=str(path), date=date))
    return runs


def read_autoregressive_file(path: Path, data: Mapping[str, Any], metric: str,
                             tasks: Sequence[str] | None) -> list[TaskRun]:
    """The task runs of a results file of any other lm-eval model (``--model hf``, vllm, ...): AR rows.

    An autoregressive model finalizes one token per forward, left to right, so AFP = 1 and tau = 1 *by
    construction* (not measured: there are no traces); the rows are marked ``autoregressive``.
    """
    config = data["config"]
    args = config.get("model_args") or "?"
    if isinstance(args, dict):  # lm-eval >= 0.4.10 records the parsed model_args
        args = ",".join(f"{k}={v}" for k, v in args.items())
    model = f"{config.get('model')}: {args}"
    date = path.stem.removeprefix("results_")
    runs = []
    for task in leaf_tasks(data):
        if tasks is not None and task not in tasks:
            continue
        score_key = resolve_score_key(task, data["results"][task], metric, path)
        samples = _samples(task, path.parent, date, [], score_key)
        for sample in samples.values():
            sample.afp, sample.kendall_tau = 1.0, 1.0
        count = _number((data.get("n-samples") or {}).get(task, {}).get("effective"))
        runs.append(TaskRun(model=model, task=task, setting=AUTOREGRESSIVE, score=_number(
            data["results"][task].get(score_key)), metrics={"nfe": None, "tokens_per_step": 1.0, "afp": 1.0,
                                                             "kendall_tau": 1.0, "samples": count},
            samples=samples, score_key=score_key, source=str(path), date=date, autoregressive=True))
    return runs


def load_runs(folders: Sequence[str | Path], metric: str = "score", tasks: Sequence[str] | None = None,
              skip: Iterable[Path] = ()) -> tuple[list[TaskRun], list[str]]:
    """All task runs under ``folders``, one per (model, task, setting), and notes for the report.

    Several results for the same (model, task, setting), e.g. the same ``lm_eval`` command run twice
    into one folder: the newest (by lm-eval's date in the file name) is kept and a note says so.
    """
    runs: list[TaskRun] = []
    for path in find_results(folders, skip):
        runs.extend(read_results_file(path, metric, tasks))
    if not runs:
        raise ReportError(f"none of the results under {', '.join(map(str, folders))} has the tasks "
                          f"{', '.join(tasks or [])}; check --tasks against the task names in those files.")
    changes = infer_primary(r.setting for r in runs)
    runs = [replace(r, setting=changes.get(r.setting, r.setting)) for r in runs]
    latest: dict[tuple[str, str, Setting], TaskRun] = {}
    notes = []
    for run in sorted(runs, key=lambda r: r.date):
        key = (run.model, run.task, run.setting)
        if key in latest:
            notes.append(f"{run.task} / {run.setting.label} / {run.model}: {latest[key].source} replaced by the "
                         f"newer {run.source}")
        latest[key] = run
    missing = sorted({r.source for r in latest.values() if not any(s.score is not None
                                                                    for s in r.samples.values())})
    if missing:
        notes.append(f"{len(missing)} results file(s) without per-sample scores (run with --log_samples for the "
                     "correctness split and the oracle point): " + ", ".join(missing))
    return sorted(latest.values(), key=lambda r: (r.model, r.task, r.setting.family,
                                                  r.setting.parallelism(r.metrics["tokens_per_step"]))), notes
