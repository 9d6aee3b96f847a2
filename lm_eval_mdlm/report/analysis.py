"""The numbers of a report: summary, AFP/tau by correctness, PBx and the per-sample oracle point.

Definitions (also in ``docs/report.md``):

* **PBx** (the official lm-eval port of ParallelBench): over the settings of one model and one strategy
  family (or all its settings), PBx = the highest *average tokens per step* among the settings whose
  *average score* is >= x % (up to float rounding, 1e-9); averages are plain means over the tasks
  (each task counts once). None
  when no setting qualifies. Every setting must cover the same tasks, else the averages would compare
  different task sets (:func:`check_same_tasks`).
* **Oracle point** (ParallelBench Appendix G.2): per sample, among the settings of one family, take
  the most parallel setting (smallest threshold; largest k; ...) that reaches that sample's best score
  across the family; average the score and the tokens per step of those per-sample choices. Only
  samples present, with a score and tokens per step, in every setting of the family count.
* **Correct** sample: per-sample score >= ``correct_at`` (0.5 by default: the 0/1 accuracies of
  ParallelBench and most generative tasks split the same way for any value in (0, 1]).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from lm_eval_mdlm.report import ReportError
from lm_eval_mdlm.report.load import TaskRun
from lm_eval_mdlm.report.settings import Setting

PBX_LEVELS = (50, 80, 90, 95)
# A mean of 0.95 and 0.85 is 89.99999999999999 % in floats; it must count as reaching PB90.
SCORE_TOLERANCE = 1e-9


def _mean(values: Sequence[float | None]) -> float | None:
    defined = [float(v) for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def summary_rows(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """One row per (model, task, setting): score and the decoding metrics of that run."""
    return [{"model": r.model, "task": r.task, "family": r.setting.family, "setting": r.setting.label,
             "strategy": r.setting.strategy, "knob": r.setting.primary or "", "value": r.setting.value,
             "score": r.score, **{k: r.metrics.get(k) for k in ("nfe", "row_forwards", "tokens_per_step", "afp",
                                                                     "kendall_tau")},
             "samples": r.metrics.get("samples"), "score_key": r.score_key, "source": r.source} for r in runs]


def correctness_split(runs: Sequence[TaskRun], correct_at: float) -> dict[str, Any]:
    """Counts and AFP/tau means of the correct and the incorrect samples of ``runs`` (pooled)."""
    groups: dict[bool, list] = {True: [], False: []}
    for run in runs:
        for sample in run.samples.values():
            if sample.score is not None:
                groups[sample.score >= correct_at].append(sample)
    row: dict[str, Any] = {}
    for name, correct in (("correct", True), ("incorrect", False)):
        row[f"{name}_n"] = len(groups[correct])
        row[f"{name}_afp"] = _mean([s.afp for s in groups[correct]])
        row[f"{name}_kendall_tau"] = _mean([s.kendall_tau for s in groups[correct]])
    return row


def correctness_rows(runs: Sequence[TaskRun], correct_at: float = 0.5) -> list[dict[str, Any]]:
    """AFP and tau means of correct vs incorrect samples, per task and setting, then per task pooled."""
    rows = []
    by_task: dict[tuple[str, str], list[TaskRun]] = defaultdict(list)
    for run in runs:
        if any(s.score is not None for s in run.samples.values()):
            by_task[(run.model, run.task)].append(run)
            rows.append({"model": run.model, "task": run.task, "setting": run.setting.label,
                         **correctness_split([run], correct_at)})
    for (model, task), members in sorted(by_task.items()):
        rows.append({"model": model, "task": task, "setting": "(all settings)",
                     **correctness_split(members, correct_at)})
    return rows


def check_same_tasks(runs: Sequence[TaskRun]) -> None:
    """Raise unless every setting of a model covers the same tasks (cross-task means need it)."""
    for model in sorted({r.model for r in runs}):
        tasks_of: dict[Setting, set[str]] = defaultdict(set)
        for run in runs:
            if run.model == model:
                tasks_of[run.setting].add(run.task)
        every = set().union(*tasks_of.values())
        partial = {s: every - t for s, t in tasks_of.items() if t != every}
        if partial:
            common = set.intersection(*tasks_of.values())
            listing = "; ".join(f"{s.label} lacks {', '.join(sorted(m))}"
                                for s, m in sorted(partial.items(), key=lambda x: x[0].label)[:5])
            hint = f"--tasks {' '.join(sorted(common))}" if common else "--tasks with the tasks you want"
            raise ReportError(
                f"the settings of model {model} cover different tasks ({listing}), so their averages over "
                f"tasks (PBx, the mean plot) would compare different task sets. Re-run the missing cells "
                f"(`lm-eval-mdlm sweep` resumes and runs only those), or restrict the report with {hint}.")


def setting_means(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """Per (model, setting): mean score in % and mean tokens per step over tasks (None if one is missing)."""
    groups: dict[tuple[str, Setting], list[TaskRun]] = defaultdict(list)
    for run in runs:
        groups[(run.model, run.setting)].append(run)
    rows = []
    for (model, setting), members in groups.items():
        scores = [r.score for r in members]
        speeds = [r.metrics.get("tokens_per_step") for r in members]
        complete = None not in scores and None not in speeds
        rows.append({"model": model, "setting": setting, "tasks": len(members),
                     "score_pct": 100.0 * sum(scores) / len(scores) if complete else None,  # type: ignore[arg-type]
                     "tokens_per_step": sum(speeds) / len(speeds) if complete else None})  # type: ignore[arg-type]
    return sorted(rows, key=lambda r: (r["model"], r["setting"].family, r["setting"].parallelism()))


def pbx_value(points: Sequence[tuple[float | None, float | None]], x: float) -> tuple[float | None, int | None]:
    """(PBx, index of the setting reaching it) over (score %, tokens per step) points; (None, None) if none."""
    best: tuple[float | None, int | None] = (None, None)
    for i, (score, speed) in enumerate(points):
        if score is None or speed is None or score < x - SCORE_TOLERANCE:
            continue
        if best[0] is None or speed > best[0]:
            best = (speed, i)
    return best


def pbx_rows(runs: Sequence[TaskRun], levels: Sequence[float] = PBX_LEVELS) -> list[dict[str, Any]]:
    """PBx per model, over all its settings and per strategy family (see the module docstring)."""
    means = setting_means(runs)
    rows = []
    for model in sorted({m["model"] for m in means}):
        mine = [m for m in means if m["model"] == model]
        scopes = [("(all settings)", mine)] + [
            (family, [m for m in mine if m["setting"].family == family])
            for family in sorted({m["setting"].family for m in mine})]
        for scope, members in scopes:
            points = [(m["score_pct"], m["tokens_per_step"]) for m in members]
            for x in levels:
                value, index = pbx_value(points, float(x))
                chosen = members[index] if index is not None else None
                rows.append({"model": model, "family": scope, "x": x, "pbx": value,
                             "setting": chosen["setting"].label if chosen else None,
                             "score_pct": chosen["score_pct"] if chosen else None, "settings": len(members)})
    return rows


def oracle_point(runs: Sequence[TaskRun]) -> dict[str, Any] | None:
    """The G.2 oracle over the runs of one (model, task, family); None without two settings or samples."""
    if len({r.setting for r in runs}) < 2:
        return None
    ordered = sorted(runs, key=lambda r: -r.setting.parallelism(r.metrics.get("tokens_per_step")))
    docs = set.intersection(*[{d for d, s in r.samples.items() if s.score is not None
                               and s.tokens_per_step is not None} for r in ordered])
    if not docs:
        return None
    scores, speeds, picks = [], [], defaultdict(int)
    for doc in sorted(docs):
        best = max(r.samples[doc].score for r in ordered)  # type: ignore[type-var]
        chosen = next(r for r in ordered if r.samples[doc].score >= best - 1e-12)  # type: ignore[operator]
        scores.append(chosen.samples[doc].score)
        speeds.append(chosen.samples[doc].tokens_per_step)
        picks[chosen.setting.label] += 1
    return {"score": sum(scores) / len(scores), "tokens_per_step": sum(speeds) / len(speeds),
            "samples": len(docs), "settings": len(ordered),
            "picks": ", ".join(f"{r.setting.label}: {picks[r.setting.label]}" for r in ordered
                               if picks.get(r.setting.label))}


def oracle_rows(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """The oracle point of every (model, task, family) that has one."""
    groups: dict[tuple[str, str, str], list[TaskRun]] = defaultdict(list)
    for run in runs:
        groups[(run.model, run.task, run.setting.family)].append(run)
    rows = []
    for (model, task, family), members in sorted(groups.items()):
        point = oracle_point(members)
        if point is not None:
            rows.append({"model": model, "task": task, "family": family, **point})
    return rows
