"""``lm-eval-mdlm report FOLDER...``: tables and plots of lm-eval ``--model mdlm`` output folders.

Everything is loaded, checked, computed and rendered in memory first; only then are the files
written, into a fresh staging folder that replaces the output folder with a rename. So a bad input
(no results, another model's results, settings over different tasks, a missing matplotlib) stops
with one clear message and leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_mdlm.report import ReportError
from lm_eval_mdlm.report.analysis import (PBX_LEVELS, check_same_tasks, correctness_rows, oracle_rows,
                                          pbx_rows, setting_means, summary_rows)
from lm_eval_mdlm.report.load import TaskRun, load_runs
from lm_eval_mdlm.report.order import QUANTILES
from lm_eval_mdlm.report.write_paper import paper_markdown, paper_plots, paper_tables

MAX_HEATMAP_PANELS = 9


@dataclass
class Report:
    """What ``build_report`` wrote: the folder and its files (names relative to it)."""

    out: Path
    files: list[str]
    notes: list[str]


def _cell(value: Any, kind: str = "", missing: str = "–") -> str:
    if value is None:
        return missing
    if isinstance(value, float) and kind == "int":
        return f"{value:.0f}"
    if isinstance(value, float):
        if kind == "pct1":  # already in %
            return f"{value:.1f}"
        return f"{100 * value:.1f}" if kind == "pct" else f"{value:.3f}" if kind == "tau" else f"{value:.2f}"
    return str(value).replace("|", "\\|")


def _markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]],
                    missing: str = "–") -> str:
    """``columns``: (key, header, kind); kind "pct" (a fraction shown in %), "pct1" (already in %),
    "tau" (3 decimals), "int", or "" (2 decimals); ``missing``: what an undefined value shows."""
    if not rows:
        return "(none)\n"
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(k), kind, missing) for k, _, kind in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv(rows: Sequence[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue().encode()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def _line_label(model: str, family: str, models: int) -> str:
    return family if models == 1 else f"{model}: {family}"


def _speed_plots(runs: Sequence[TaskRun], oracles: Sequence[dict[str, Any]]) -> dict[str, bytes]:
    from lm_eval_mdlm.report import plots

    models = len({r.model for r in runs})
    out: dict[str, bytes] = {}
    for task in sorted({r.task for r in runs}):
        lines: dict[str, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
        for run in runs:
            if run.task == task and run.score is not None and run.metrics.get("tokens_per_step") is not None:
                xs, ys = lines[_line_label(run.model, run.setting.family, models)]
                xs.append(run.metrics["tokens_per_step"])  # type: ignore[arg-type]
                ys.append(run.score)
        stars = [(_line_label(o["model"], o["family"], models), o["tokens_per_step"], o["score"])
                 for o in oracles if o["task"] == task]
        if lines:
            fig = plots.score_vs_speed(task, [(k, *v) for k, v in lines.items()], stars)
            out[f"score_vs_tokens_per_step_{_slug(task)}.png"] = plots.png_bytes(fig)
    means = [m for m in setting_means(runs) if m["score_pct"] is not None]
    tasks_of = {model: {r.task for r in runs if r.model == model} for model in {r.model for r in runs}}
    if any(len(tasks) > 1 for tasks in tasks_of.values()) and means:  # else it repeats a per-task plot
        lines = defaultdict(lambda: ([], []))
        for m in means:
            xs, ys = lines[_line_label(m["model"], m["setting"].family, models)]
            xs.append(m["tokens_per_step"])
            ys.append(m["score_pct"] / 100)
        stars = []
        for model, family in sorted({(o["model"], o["family"]) for o in oracles}):
            points = [o for o in oracles if o["model"] == model and o["family"] == family]
            if len(points) == len(tasks_of[model]):  # an oracle on every task: its mean is comparable
                stars.append((_line_label(model, family, models), sum(p["tokens_per_step"] for p in points)
                              / len(points), sum(p["score"] for p in points) / len(points)))
        fig = plots.score_vs_speed("mean over tasks", [(k, *v) for k, v in lines.items()], stars)
        out["score_vs_tokens_per_step_mean.png"] = plots.png_bytes(fig)
    return out


def _scatter_plot(runs: Sequence[TaskRun], correct_at: float) -> dict[str, bytes]:
    from lm_eval_mdlm.report import plots

    panels: dict[str, list[tuple[float, float, bool]]] = defaultdict(list)
    models = len({r.model for r in runs})
    for run in runs:
        for s in run.samples.values():
            if s.score is not None and s.afp is not None and s.kendall_tau is not None:
                panels[run.task if models == 1 else f"{run.model}: {run.task}"].append(
                    (s.afp, s.kendall_tau, s.score >= correct_at))
    if not panels:
        return {}
    return {"afp_vs_tau.png": plots.png_bytes(plots.afp_tau_scatter(sorted(panels.items())))}


def _heatmap(runs: Sequence[TaskRun], sample: str | None, notes: list[str]) -> dict[str, bytes]:
    from lm_eval_mdlm.report import plots

    traced = [r for r in runs if any(s.steps for s in r.samples.values())]
    if sample:
        task, sep, doc = sample.rpartition(":")
        if not sep or not doc.isdigit():
            raise ReportError(f"--sample {sample!r} is invalid: write TASK:DOC_ID, e.g. "
                              "--sample parallelbench_list_ops_shuffle_gen:0.")
        doc_id = int(doc)
        if task not in {r.task for r in runs}:
            raise ReportError(f"--sample {sample}: task {task} is not in the report; tasks: "
                              f"{', '.join(sorted({r.task for r in runs}))}.")
    elif traced:
        task = sorted({r.task for r in traced})[0]
        counts: dict[int, int] = defaultdict(int)
        for r in traced:
            if r.task == task:
                for d, s in r.samples.items():
                    counts[d] += bool(s.steps)
        doc_id = min(counts, key=lambda d: (-counts[d], d))
    else:
        notes.append("no decoding traces (mdlm_traces_*.jsonl) found: no decoding-order heat map.")
        return {}
    members = [r for r in runs if r.task == task and r.samples.get(doc_id) and r.samples[doc_id].steps]
    if len(members) > MAX_HEATMAP_PANELS:  # evenly spread over the ordered settings
        step = (len(members) - 1) / (MAX_HEATMAP_PANELS - 1)
        members = [members[round(i * step)] for i in range(MAX_HEATMAP_PANELS)]
    models = len({r.model for r in runs})
    panels = [(r.setting.label if models == 1 else f"{r.model}: {r.setting.label}",
               r.samples[doc_id].steps or []) for r in members]
    fig = plots.decoding_heatmap(task, doc_id, panels)
    return {f"decoding_order_{_slug(task)}_doc{doc_id}.png": plots.png_bytes(fig)}


def _markdown(folders: Sequence[str | Path], runs: Sequence[TaskRun], tables: dict[str, list[dict[str, Any]]],
              images: Sequence[str], notes: Sequence[str], correct_at: float, quantiles: int) -> str:
    parts = ["# lm-eval-mdlm report\n",
             f"Read {len({r.source for r in runs})} results file(s) under {', '.join(map(str, folders))}: "
             f"{len({r.model for r in runs})} model(s), {len({r.task for r in runs})} task(s), "
             f"{len({(r.model, r.setting) for r in runs})} decoding setting(s). Score = "
             f"{', '.join(sorted({r.score_key for r in runs}))}, in %.\n"]
    if notes:
        parts.append("Notes:\n\n" + "".join(f"- {n}\n" for n in notes))
    parts += ["\n## Summary\n\n", _markdown_table(tables["summary"], [
        ("model", "model", ""), ("task", "task", ""), ("setting", "setting", ""), ("score", "score %", "pct"),
        ("nfe", "NFE", ""), ("row_forwards", "row-forwards", ""), ("tokens_per_step", "tokens/step", ""),
        ("afp", "AFP", ""), ("kendall_tau", "tau", "tau"), ("samples", "samples", "int")])]
    parts += [f"\n## AFP and tau by correctness (correct: per-sample score >= {correct_at:g})\n\n",
              _markdown_table(tables["correctness"], [
                  ("model", "model", ""), ("task", "task", ""), ("setting", "setting", ""),
                  ("correct_n", "n correct", ""), ("correct_afp", "AFP correct", ""),
                  ("correct_kendall_tau", "tau correct", "tau"), ("incorrect_n", "n incorrect", ""),
                  ("incorrect_afp", "AFP incorrect", ""), ("incorrect_kendall_tau", "tau incorrect", "tau")])]
    parts += ["\n## PBx\n\nPBx = the highest average tokens per step among the settings whose average score "
              "(mean over tasks) is >= x %; – where none qualifies.\n\n",
              _markdown_table(tables["pbx"], [("model", "model", ""), ("family", "settings of", ""),
                                              ("x", "x", ""), ("pbx", "PBx (tokens/step)", ""),
                                              ("setting", "reached by", ""),
                                              ("score_pct", "its score %", "pct1")])]
    parts += ["\n## Oracle point (ParallelBench G.2)\n\nPer sample, the most parallel setting of the family "
              "that reaches the sample's best score; score and tokens per step averaged over samples.\n\n",
              _markdown_table(tables["oracle"], [
                  ("model", "model", ""), ("task", "task", ""), ("family", "family", ""), ("score", "score %", "pct"),
                  ("tokens_per_step", "tokens/step", ""), ("samples", "samples", ""), ("picks", "chosen", "")])]
    parts.append(paper_markdown(tables, quantiles, _markdown_table))
    if images:
        parts.append("\n## Plots\n\n" + "".join(f"![{name}]({name})\n\n" for name in images))
    return "".join(parts)


def _write_folder(out: Path, files: dict[str, bytes], inputs: Sequence[str | Path]) -> None:
    """Write ``files`` into a staging folder, then swap it in for ``out`` (a previous report, or new)."""
    out = out.resolve()
    for folder in inputs:
        if Path(folder).resolve().is_relative_to(out):
            raise ReportError(f"--out {out} contains the input folder {folder}; choose a folder for the report "
                              "that is not above the results (default: FOLDER/report).")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "report.md").exists())):
        raise ReportError(f"--out {out} exists and is not a report folder (no report.md); choose another --out "
                          "(the report replaces its output folder as a whole).")
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        for name, data in files.items():
            (stage / name).write_bytes(data)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.rename(out, old)
            os.rename(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def build_report(folders: Sequence[str | Path], out: str | Path | None = None, metric: str = "score",
                 tasks: Sequence[str] | None = None, correct_at: float = 0.5, sample: str | None = None,
                 plots: bool = True, quantiles: int = QUANTILES) -> Report:
    """Read the runs under ``folders`` and write report.md, CSV tables and PNG plots into ``out``."""
    if not folders:
        raise ReportError("give at least one folder of lm-eval results.")
    if plots:
        from lm_eval_mdlm.report.plots import require_matplotlib

        require_matplotlib()
    out_path = Path(out) if out is not None else Path(folders[0]) / "report"
    runs, notes = load_runs(folders, metric=metric, tasks=tasks, skip=[out_path])
    if quantiles < 1:
        raise ReportError(f"--quantiles {quantiles} is invalid: give an integer >= 1 (default {QUANTILES}).")
    check_same_tasks(runs)
    oracles = oracle_rows(runs)
    tables = {"summary": summary_rows(runs), "correctness": correctness_rows(runs, correct_at),
              "pbx": pbx_rows(runs, PBX_LEVELS), "oracle": oracles}
    extra, diagrams = paper_tables(runs, correct_at, quantiles)
    tables.update(extra)
    images: dict[str, bytes] = {}
    if plots:
        images.update(_speed_plots(runs, oracles))
        images.update(_scatter_plot(runs, correct_at))
        images.update(_heatmap(runs, sample, notes))
        images.update(paper_plots(runs, tables, diagrams, quantiles))
    files = {f"{name}.csv": _csv(rows) for name, rows in tables.items()}
    files.update(images)
    files["report.md"] = _markdown(folders, runs, tables, sorted(images), notes, correct_at, quantiles).encode()
    _write_folder(out_path, files, folders)
    return Report(out=out_path, files=sorted(files), notes=notes)


def _finite(text: str) -> float:
    """A finite number for ``--correct_at`` (``nan`` would make every sample incorrect, silently)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number; give e.g. --correct_at 0.5")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``lm-eval-mdlm report``: parse arguments, build the report, print where it went."""
    parser = argparse.ArgumentParser(
        prog="lm-eval-mdlm report",
        description="Tables (Markdown, CSV) and plots of lm-eval --model mdlm output folders: score vs tokens "
                    "per step, AFP/tau by correctness, PBx, the per-sample oracle point. See docs/report.md.")
    parser.add_argument("folders", nargs="+", help="lm-eval --output_path folders (a sweep's or single runs)")
    parser.add_argument("--out", help="report folder (default: FIRST_FOLDER/report); replaced as a whole")
    parser.add_argument("--metric", default="score",
                        help="score metric as NAME or NAME,FILTER (default: score, ParallelBench's headline)")
    parser.add_argument("--tasks", nargs="+", help="only these tasks (e.g. the ones every setting ran)")
    parser.add_argument("--correct_at", type=_finite, default=0.5,
                        help="a sample is correct when its score >= this (default 0.5)")
    parser.add_argument("--sample", help="TASK:DOC_ID for the decoding-order heat map (default: first task)")
    parser.add_argument("--quantiles", type=int, default=QUANTILES,
                        help=f"answer-position ranges of the reasoning-stage analysis (default {QUANTILES})")
    parser.add_argument("--no_plots", action="store_true", help="tables only (no matplotlib needed)")
    args = parser.parse_args(argv)
    try:
        report = build_report(args.folders, out=args.out, metric=args.metric, tasks=args.tasks,
                              correct_at=args.correct_at, sample=args.sample, plots=not args.no_plots,
                              quantiles=args.quantiles)
    except ReportError as exc:
        print(f"lm-eval-mdlm report: error: {exc}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {report.out}: " + ", ".join(report.files))
    return 0
