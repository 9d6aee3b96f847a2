"""Where and in what order an MDLM decodes: by domain, by reasoning stage, Sudoku fill order, repetition loops.

The analyses of the AFP/tau paper (arXiv 2601.15593) beyond the summary tables; definitions (also in
``docs/report.md``):

* **Domain** of an ``mdlm_suite`` task: its domain in the suite's catalog (knowledge, math, reasoning,
  language, agentic, coding); other tasks have none and are left out of the domain table. Domain score =
  mean of its tasks' scores (as the suite's group does); AFP and tau = means over the domain's samples.
* **Reasoning stage**: answer positions split into ``quantiles`` equal ranges (:func:`quantile_bounds`); AFP
  and tau within each range, per sample, averaged over samples. Where the task's extractor knows its
  final-answer marker ('The answer is', 'Answer:', '####', ``\\boxed{``), the answer also splits into the
  reasoning part (before the last marker) and the final-answer part (from it on).
* **Character to token**: traces hold one finalization step per answer *token*, lm-eval logs the answer
  *text*; a character at index c of a text of length L lies in token floor(c * n / L) of the n answer
  tokens (:func:`char_to_token`). Exact when tokens have equal length (one character each); otherwise an
  approximation to within the tokens' length spread.
* **Sudoku fill order**: for each blank cell of the given puzzle, its difficulty (the number of digits
  still allowed by its row, column and box) and the step the model filled it (the step of the token holding
  that cell of the answer grid). Per sample: Kendall's tau-b and Spearman's rho between difficulty and fill
  step (positive = easier blanks first) and the share of "easier first" pairs (:func:`easier_first_share`).
* **Failure signature** (the paper's repetition loops): a sample whose answer repeats itself (rep-3 >=
  ``REPETITIVE``) *and* decodes with very high AFP (>= ``HIGH_AFP_FACTOR`` x the median AFP of its run) and
  tau near 0 (|tau| <= ``FLAT_TAU``, or tau undefined because every token was committed in one step).
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from lm_eval_mdlm.metrics.decoding import (easier_first_share, kendall_tau_b, mean_defined, quantile_bounds,
                                           repeated_ngram_rate, segment_order, spearman_rho)
from lm_eval_mdlm.metrics.puzzles import _candidates
from lm_eval_mdlm.report.analysis import correctness_split
from lm_eval_mdlm.report.load import Sample, TaskRun

QUANTILES = 5
REPETITIVE = 0.5
HIGH_AFP_FACTOR = 2.0
FLAT_TAU = 0.2
_LAST_MARKER = re.compile(r"the (?:final )?answer is|answer:|####|\\boxed\{", re.IGNORECASE)
_MARKED_EXTRACTORS = ("final_number", "choice_letter", "boolean", "boxed", "sudoku_grid", "countdown_expression",
                      "marked_text")


def suite_info(task: str) -> tuple[str | None, str | None]:
    """(domain, extractor) of an ``mdlm_suite`` task; (None, None) for any other task."""
    from lm_eval_mdlm.tasks.suite.catalog import BENCHMARKS

    for bench in BENCHMARKS:
        if bench.task == task:
            return bench.domain, bench.extractor
    return None, None


def char_to_token(char: int, text_length: int, tokens: int) -> int:
    """The answer token holding character ``char`` (see the module docstring); clipped to the last token."""
    if text_length <= 0 or tokens <= 0:
        return 0
    return min(tokens - 1, char * tokens // text_length)


def final_marker(text: str) -> int | None:
    """Character index of the last final-answer marker in ``text``, or None."""
    hits = list(_LAST_MARKER.finditer(text))
    return hits[-1].start() if hits else None


# ---------------------------------------------------------------- by domain
def domain_rows(runs: Sequence[TaskRun], correct_at: float = 0.5) -> list[dict[str, Any]]:
    """Per (model, setting, domain): tasks, mean score, AFP and tau over samples, and the correctness split."""
    groups: dict[tuple[str, str, str], list[TaskRun]] = defaultdict(list)
    for run in runs:
        domain, _ = suite_info(run.task)
        if domain is not None:
            groups[(run.model, run.setting.label, domain)].append(run)
    rows = []
    for (model, setting, domain), members in sorted(groups.items()):
        samples = [s for r in members for s in r.samples.values()]
        rows.append({"model": model, "setting": setting, "domain": domain, "tasks": len(members),
                     "score": mean_defined([r.score for r in members]),
                     "afp": mean_defined([s.afp for s in samples]),
                     "kendall_tau": mean_defined([s.kendall_tau for s in samples]),
                     "autoregressive": any(r.autoregressive for r in members),
                     **correctness_split(members, correct_at)})
    return rows


# ---------------------------------------------------------------- by reasoning stage
def stage_profile(sample: Sample, quantiles: int = QUANTILES) -> list[tuple[float | None, float | None]]:
    """(AFP, tau) of each position quantile of one traced answer."""
    steps = sample.steps or []
    return [segment_order(steps[a:b]) for a, b in quantile_bounds(len(steps), quantiles)]


def marker_split(sample: Sample) -> tuple[tuple[float | None, float | None], tuple[float | None, float | None]] | None:
    """((AFP, tau) of the reasoning part, (AFP, tau) of the final-answer part), or None without a marker."""
    steps, text = sample.steps or [], sample.response or ""
    at = final_marker(text)
    if at is None or not steps:
        return None
    cut = char_to_token(at, len(text), len(steps))
    return segment_order(steps[:cut]), segment_order(steps[cut:])


def stage_rows(runs: Sequence[TaskRun], quantiles: int = QUANTILES) -> list[dict[str, Any]]:
    """Per (model, setting, task) and per (model, setting, domain): AFP and tau by quantile and by part."""
    groups: dict[tuple[str, str, str], list[tuple[Sample, bool]]] = defaultdict(list)
    for run in runs:
        if run.autoregressive:
            continue
        domain, extractor = suite_info(run.task)
        marked = extractor in _MARKED_EXTRACTORS
        for sample in run.samples.values():
            if sample.steps:
                groups[(run.model, run.setting.label, run.task)].append((sample, marked))
                if domain is not None:
                    groups[(run.model, run.setting.label, f"domain: {domain}")].append((sample, marked))
    rows = []
    for (model, setting, scope), members in sorted(groups.items()):
        row: dict[str, Any] = {"model": model, "setting": setting, "scope": scope, "samples": len(members)}
        profiles = [stage_profile(s, quantiles) for s, _ in members]
        for q in range(quantiles):
            row[f"afp_q{q + 1}"] = mean_defined([p[q][0] for p in profiles])
            row[f"tau_q{q + 1}"] = mean_defined([p[q][1] for p in profiles])
        splits = [marker_split(s) for s, marked in members if marked]
        splits = [s for s in splits if s is not None]
        row["marked"] = len(splits)
        for i, part in enumerate(("reasoning", "final")):
            row[f"{part}_afp"] = mean_defined([s[i][0] for s in splits])
            row[f"{part}_tau"] = mean_defined([s[i][1] for s in splits])
        rows.append(row)
    return rows


# ---------------------------------------------------------------- Sudoku fill order vs blank difficulty
def given_grid(doc: Any) -> list[list[int]] | None:
    """The puzzle of a Sudoku document: the suite's ``puzzle`` (81 digits) or ParallelBench's last 'Input:'."""
    if not isinstance(doc, dict):
        return None
    puzzle = doc.get("puzzle")
    if isinstance(puzzle, str) and re.fullmatch(r"\d+", puzzle) and math.isqrt(len(puzzle)) ** 2 == len(puzzle):
        size = math.isqrt(len(puzzle))
        return [[int(c) for c in puzzle[r * size:(r + 1) * size]] for r in range(size)]
    prompt = str(doc.get("prompt") or "")
    at = prompt.rfind("Input:")
    if at < 0:
        return None
    rows = [line.strip() for line in prompt[at + len("Input:"):].split("Output:")[0].splitlines() if line.strip()]
    if not rows or any(not r.isdigit() or len(r) != len(rows) for r in rows):
        return None
    return [[int(c) for c in r] for r in rows]


def grid_cells(text: str, size: int) -> list[int] | None:
    """Character index of each of the size x size cells of the answer grid (row-major), or None.

    The grid is read after the last 'Answer:' if there is one: rows are the first ``size`` lines holding
    exactly ``size`` digits (separators ignored); failing that, the first size^2 digits 1-9 in a row."""
    at = text.lower().rfind("answer:")
    start = at + len("answer:") if at >= 0 else 0
    cells: list[int] = []
    offset = start
    for line in text[start:].splitlines(keepends=True):
        digits = [offset + i for i, c in enumerate(line) if c.isdigit()]
        if len(digits) == size and len(cells) < size * size:
            cells += digits
        offset += len(line)
    if len(cells) == size * size:
        return cells
    digits = [start + i for i, c in enumerate(text[start:]) if c in "123456789"]
    return digits[:size * size] if len(digits) >= size * size else None


def sudoku_order(sample: Sample) -> dict[str, Any] | None:
    """Difficulty vs fill order of one traced Sudoku answer; None without a puzzle, trace or readable grid."""
    grid = given_grid(sample.doc)
    steps, text = sample.steps or [], sample.response or ""
    if grid is None or not steps:
        return None
    cells = grid_cells(text, len(grid))
    if cells is None:
        return None
    size = len(grid)
    blanks = [(r, c) for r in range(size) for c in range(size) if grid[r][c] == 0]
    difficulty = [len(_candidates(grid, r, c)) for r, c in blanks]
    filled = [steps[char_to_token(cells[r * size + c], len(text), len(steps))] for r, c in blanks]
    share, pairs = easier_first_share(difficulty, filled)
    return {"blanks": len(blanks), "kendall": kendall_tau_b(difficulty, filled),
            "spearman": spearman_rho(difficulty, filled), "easier_first": share, "pairs": pairs,
            "difficulty": difficulty, "filled": filled}


def sudoku_rows(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """Per (model, task, setting) of Sudoku tasks: mean Kendall/Spearman and the pooled easier-first share."""
    rows = []
    for run in runs:
        if "sudoku" not in run.task or run.autoregressive:
            continue
        orders = [o for o in (sudoku_order(s) for s in run.samples.values()) if o is not None]
        pairs = sum(o["pairs"] for o in orders)
        easier = sum(o["easier_first"] * o["pairs"] for o in orders if o["easier_first"] is not None)
        rows.append({"model": run.model, "task": run.task, "setting": run.setting.label,
                     "samples": len(run.samples), "read": len(orders),
                     "kendall": mean_defined([o["kendall"] for o in orders]),
                     "spearman": mean_defined([o["spearman"] for o in orders]),
                     "easier_first": easier / pairs if pairs else None, "pairs": pairs})
    return rows


# ---------------------------------------------------------------- failure signature
def signature_rows(runs: Sequence[TaskRun], correct_at: float = 0.5) -> list[dict[str, Any]]:
    """Per (model, task, setting): repetitive samples and those with the loop signature (module docstring)."""
    rows = []
    for run in runs:
        samples = [s for s in run.samples.values() if s.response is not None]
        afps = [s.afp for s in samples if s.afp is not None]
        median = statistics.median(afps) if afps else None
        repetitive = flagged = flagged_wrong = 0
        for s in samples:
            rate = repeated_ngram_rate(s.response or "")
            if rate is None or rate < REPETITIVE:
                continue
            repetitive += 1
            if run.autoregressive or median is None or s.afp is None:
                continue
            if s.afp >= HIGH_AFP_FACTOR * median and (s.kendall_tau is None or abs(s.kendall_tau) <= FLAT_TAU):
                flagged += 1
                flagged_wrong += s.score is not None and s.score < correct_at
        rows.append({"model": run.model, "task": run.task, "setting": run.setting.label, "samples": len(samples),
                     "repetitive": repetitive, "signature": None if run.autoregressive else flagged,
                     "signature_incorrect": None if run.autoregressive else flagged_wrong,
                     "median_afp": median})
    return rows


def parse_list(value: Any) -> list[str] | None:
    """A list target or answer (JSON list text or a list) as strings; None if it is not one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return [str(v) for v in value] if isinstance(value, list) else None
