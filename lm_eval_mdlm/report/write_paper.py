"""The report's sections for the AFP/tau paper's analyses: tables, Markdown and plots (see ``docs/report.md``).

Undefined numbers are printed "n/a", and each section says when a value is undefined.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from lm_eval_mdlm.report.calibration import BINS, ar_gap_rows, calibration_rows, knee_rows
from lm_eval_mdlm.report.load import TaskRun
from lm_eval_mdlm.report.order import (FLAT_TAU, HIGH_AFP_FACTOR, QUANTILES, REPETITIVE, domain_rows,
                                       signature_rows, stage_rows, sudoku_order, sudoku_rows)


def paper_tables(runs: Sequence[TaskRun], correct_at: float = 0.5,
                 quantiles: int = QUANTILES) -> tuple[dict[str, list[dict[str, Any]]], dict[tuple, list[dict]]]:
    """Every table of the paper's analyses, and the reliability bins for the diagrams."""
    calibration, diagrams = calibration_rows(runs, correct_at, BINS)
    tables = {"by_domain": domain_rows(runs, correct_at), "by_stage": stage_rows(runs, quantiles),
              "sudoku_order": sudoku_rows(runs), "calibration": calibration, "knee": knee_rows(runs),
              "ar_gap": ar_gap_rows(runs), "failure_signature": signature_rows(runs, correct_at)}
    return tables, diagrams


def _section(title: str, text: str, rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]],
             table: Any) -> str:
    return f"\n## {title}\n\n{text}\n\n" + table(rows, columns, missing="n/a")


def paper_markdown(tables: dict[str, list[dict[str, Any]]], quantiles: int, table: Any) -> str:
    """The Markdown of the paper's sections; ``table`` renders rows (write.py's ``_markdown_table``)."""
    mk = [("model", "model", ""), ("setting", "setting", "")]
    stage_cols = mk + [("scope", "task / domain", ""), ("samples", "samples", "int")]
    measures = (("afp", "AFP", ""), ("tau", "tau", "tau"))
    stage_cols += [(f"{p}_q{q + 1}", f"{n} q{q + 1}", kind) for p, n, kind in measures for q in range(quantiles)]
    stage_cols += [("marked", "with marker", "int"), ("reasoning_afp", "AFP reasoning", ""),
                   ("reasoning_tau", "tau reasoning", "tau"), ("final_afp", "AFP final", ""),
                   ("final_tau", "tau final", "tau")]
    return "".join([
        _section("By domain (mdlm_suite)", "Score = mean of the domain's task scores; AFP, tau = means over its "
                 "samples; n/a: no sample of that kind.", tables["by_domain"], mk + [
                     ("domain", "domain", ""), ("tasks", "tasks", "int"), ("score", "score %", "pct"),
                     ("afp", "AFP", ""), ("kendall_tau", "tau", "tau"), ("correct_n", "n correct", ""),
                     ("correct_afp", "AFP correct", ""), ("correct_kendall_tau", "tau correct", "tau"),
                     ("incorrect_n", "n incorrect", ""), ("incorrect_afp", "AFP incorrect", ""),
                     ("incorrect_kendall_tau", "tau incorrect", "tau")], table),
        _section("By reasoning stage", f"AFP and tau within {quantiles} equal answer-position ranges (q1 = start), "
                 "and before / from the last final-answer marker (suite tasks whose extractor has one). n/a: the "
                 "range is empty or has fewer than 2 tokens or a single step (tau), or no answer has a marker.",
                 tables["by_stage"], stage_cols, table),
        _section("Sudoku: fill order vs blank difficulty", "Difficulty = candidates of a blank in the given puzzle; "
                 "Kendall/Spearman between difficulty and fill step (> 0: easier blanks first), mean over samples; "
                 "easier first = share of blank pairs (differing in both) where the easier was filled first. "
                 "read = samples whose answer grid could be located. n/a: no readable grid or no such pair.",
                 tables["sudoku_order"], [("model", "model", ""), ("task", "task", ""), ("setting", "setting", ""),
                                          ("samples", "samples", "int"), ("read", "read", "int"),
                                          ("kendall", "Kendall", "tau"), ("spearman", "Spearman", "tau"),
                                          ("easier_first", "easier first %", "pct"), ("pairs", "pairs", "int")],
                 table),
        _section("Confidence calibration", f"ECE over {BINS} equal-mass bins of commit confidence vs correctness: "
                 "per token (tasks with token-level targets) and per sample (mean / min confidence vs the sample "
                 "being correct). n/a: no traced sample with commit confidences.", tables["calibration"], [
                     ("model", "model", ""), ("task", "task", ""), ("setting", "setting", ""), ("level", "level", ""),
                     ("n", "n", "int"), ("ece", "ECE", "tau"), ("confidence", "mean confidence", "tau"),
                     ("accuracy", "fraction correct", "tau")], table),
        _section("Accuracy vs AFP along each swept knob", "Kneedle rule: the knee is the point highest above the "
                 "line from the lowest-AFP to the highest-AFP point (both axes min-max normalized), where accuracy "
                 "starts to fall faster than AFP rises; no knee with < 3 points or no point >= 0.05 above that line.",
                 tables["knee"], [("model", "model", ""), ("knob", "knob", ""), ("line", "other knobs", ""),
                                  ("value", "value", ""), ("afp", "AFP", ""), ("score", "score %", "pct"),
                                  ("knee", "knee", "")], table),
        _section("Autoregressive baseline", "Rows of non-mdlm runs (e.g. --model hf): AFP = 1 and tau = 1 by "
                 "construction (one token per forward, left to right), not measured. Gap = MDLM score - AR score, "
                 "in points.", tables["ar_gap"], [
                     ("scope", "task / domain", ""), ("ar_model", "AR model", ""), ("ar_score", "AR score %", "pct"),
                     ("model", "MDLM", ""), ("setting", "setting", ""), ("score", "MDLM score %", "pct"),
                     ("gap", "gap (points)", "pct")], table),
        _section("Failure signature: repetition loops", f"repetitive: rep-3 (share of repeated word 3-grams) >= "
                 f"{REPETITIVE:g}; signature: repetitive and AFP >= {HIGH_AFP_FACTOR:g} x the run's median AFP and "
                 f"|tau| <= {FLAT_TAU:g} (or tau undefined: all tokens in one step). n/a: autoregressive rows "
                 "(no decoding trace).", tables["failure_signature"], [
                     ("model", "model", ""), ("task", "task", ""), ("setting", "setting", ""),
                     ("samples", "samples", "int"), ("repetitive", "repetitive", "int"),
                     ("signature", "signature", "int"), ("signature_incorrect", "of them incorrect", "int"),
                     ("median_afp", "median AFP", "")], table)])


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:80]


def paper_plots(runs: Sequence[TaskRun], tables: dict[str, list[dict[str, Any]]], diagrams: dict[tuple, list[dict]],
                quantiles: int) -> dict[str, bytes]:
    """PNG files of the paper's analyses (only those with data)."""
    from lm_eval_mdlm.report import plots_paper
    from lm_eval_mdlm.report.plots import png_bytes

    out: dict[str, bytes] = {}
    if tables["by_domain"]:
        out["by_domain.png"] = png_bytes(plots_paper.domain_bars(tables["by_domain"]))
    if tables["by_stage"]:
        for prefix, name in (("afp", "AFP"), ("tau", "Kendall's tau")):
            out[f"by_stage_{prefix}.png"] = png_bytes(plots_paper.stage_lines(tables["by_stage"], quantiles, prefix,
                                                                              name))
    panels = []
    for run in runs:
        if "sudoku" in run.task and not run.autoregressive:
            orders = [o for o in (sudoku_order(s) for s in run.samples.values()) if o is not None]
            points = [(d, f) for o in orders for d, f in zip(o["difficulty"], o["filled"])]
            if points:
                panels.append((f"{run.task}\n{run.setting.label}", points))
    if panels:
        out["sudoku_order.png"] = png_bytes(plots_paper.sudoku_scatter(panels[:9]))
    by_level: dict[str, dict[str, list[tuple[str, list[dict]]]]] = defaultdict(lambda: defaultdict(list))
    for (model, setting, level), bins in sorted(diagrams.items()):
        if bins:
            by_level[level][model].append((setting, bins))
    for level, models in by_level.items():
        panels = [(model, curves[:10]) for model, curves in sorted(models.items())][:6]
        out[f"reliability_{_slug(level)}.png"] = png_bytes(plots_paper.reliability(
            f"reliability of commit confidence ({level}; equal-mass bins)", panels))
    lines: dict[tuple[str, str], list[tuple[str, list]]] = defaultdict(list)
    grouped: dict[tuple[str, str, str], list] = defaultdict(list)
    for row in tables["knee"]:
        if row["afp"] is not None and row["score"] is not None:
            grouped[(row["model"], row["knob"], row["line"])].append(
                (row["afp"], row["score"], str(row["value"]), row["knee"]))
    for (model, knob, line), points in grouped.items():
        lines[(model, knob)].append((line or knob, points))
    for (model, knob), members in sorted(lines.items()):
        out[f"knee_{_slug(knob)}_{re.sub(r'[^A-Za-z0-9._-]+', '_', model)[-60:]}.png"] = png_bytes(
            plots_paper.knee_plot(f"score vs AFP, {knob} swept ({model[-50:]})", members[:10]))
    return out
