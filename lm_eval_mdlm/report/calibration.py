"""Confidence calibration, the accuracy-vs-AFP knee of any swept knob, and the autoregressive baseline.

Definitions (also in ``docs/report.md``):

* **Commit confidence** of a token: the probability the model gave the token it wrote, at the step it
  wrote it (traces' ``commit_confidence``).
* **Per-token correctness** (tasks with token-level targets): each answer *unit* (a Sudoku or Latin-square
  cell, a list item of Waiting Line / list operations) is located in the answer text and mapped to the token
  holding its first character (:func:`~lm_eval_mdlm.report.order.char_to_token`); the token is correct when
  its unit is (Sudoku: the cell equals the solution's; Latin square: the symbol is one of the square's and
  occurs once in its row and once in its column; lists: the item equals the target's item at that index, or,
  for tasks with many valid answers (shuffle, the ``random`` operations), it is one of the target's items and
  occurs once in the answer).
  Tokens holding no unit are not counted.
* **Per-sample calibration**: the mean and the minimum commit confidence of a sample's answer tokens vs the
  sample being correct (score >= ``correct_at``).
* **ECE with equal-mass bins**: sort the (confidence, correct) pairs by confidence and cut them into
  ``bins`` bins of (nearly) equal count (cut at i * N / bins; a cut inside a run of equal confidences moves to
  its end, so equal confidences share a bin and a bin may hold more; fewer bins when there are fewer pairs);
  ECE = sum over bins of (bin count / N) * |mean correctness - mean confidence|. Equal-mass bins keep every
  bin populated where confidences pile up near 1 (equal-width bins leave most of them empty).
* **Knee** (Kneedle, Satopaa et al. 2011): along a line of settings where one knob varies, points (mean AFP,
  mean score) sorted by AFP and min-max normalized to [0, 1]; the knee is the point highest above the straight
  line from the first to the last point, i.e. where accuracy starts to fall faster than AFP rises. None (n/a)
  with fewer than 3 points, equal AFPs or scores, or no point at least ``KNEE_MIN_HEIGHT`` (0.05) above that
  line.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np


from lm_eval_mdlm.metrics.decoding import mean_defined
from lm_eval_mdlm.report.load import Sample, TaskRun
from lm_eval_mdlm.report.order import char_to_token, given_grid, grid_cells, parse_list, suite_info

BINS = 10
KNEE_MIN_HEIGHT = 0.05  # normalized units: a point barely above the chord is noise, not a knee
TOKEN_LEVEL = ("waiting_line", "list_ops", "sudoku", "latin_square")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def equal_mass_bins(confidence: Sequence[float], correct: Sequence[bool],
                    bins: int = BINS) -> tuple[float | None, list[dict[str, float]]]:
    """(ECE, reliability bins) with equal-mass bins (module docstring); (None, []) without pairs."""
    if len(confidence) == 0:
        return None, []
    order = np.argsort(np.asarray(confidence, dtype=float), kind="stable")
    conf, hit = np.asarray(confidence, dtype=float)[order], np.asarray(correct, dtype=float)[order]
    n = conf.size
    edges = {0, n}
    for i in range(1, min(bins, n)):
        cut = round(i * n / min(bins, n))
        while 0 < cut < n and conf[cut] == conf[cut - 1]:
            cut += 1  # equal confidences share a bin
        edges.add(cut)
    bounds = sorted(edges)
    rows, ece = [], 0.0
    for idx in (np.arange(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo):
        c, a = float(conf[idx].mean()), float(hit[idx].mean())
        ece += idx.size / conf.size * abs(a - c)
        rows.append({"n": int(idx.size), "confidence": c, "accuracy": a, "low": float(conf[idx[0]]),
                     "high": float(conf[idx[-1]])})
    return ece, rows


# ---------------------------------------------------------------- per-token correctness
def _sudoku_units(sample: Sample, text: str) -> list[tuple[int, bool]] | None:
    grid = given_grid(sample.doc)
    solution = (sample.doc or {}).get("solution") or sample.target
    if grid is None or solution is None:
        return None
    digits = re.sub(r"\D", "", str(solution))
    cells = grid_cells(text, len(grid))
    if cells is None or len(digits) != len(cells):
        return None
    return [(at, text[at] == digits[i]) for i, at in enumerate(cells)]


def _latin_units(text: str, size: int) -> list[tuple[int, bool]]:
    rows: list[list[tuple[int, str]]] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        if "," in line and len(rows) < size:
            cells, start = [], offset
            for part in line.rstrip("\n").split(","):
                stripped = part.strip()
                cells.append((start + part.find(stripped) if stripped else start, stripped))
                start += len(part) + 1
            rows.append(cells)
        offset += len(line)
    symbols = {cell for _, cell in rows[0]} if rows else set()
    units = []
    for r, row in enumerate(rows):
        for c, (at, cell) in enumerate(row):
            column = [rr[c][1] for rr in rows if c < len(rr)]
            units.append((at, cell in symbols and len(symbols) == size and [x for _, x in row].count(cell) == 1
                          and column.count(cell) == 1))
    return units


def list_items(text: str) -> list[tuple[int, str]]:
    """(start, item) of each item of the answer's list: quoted items (``["Ann Lee", ...]``, Waiting Line), else
    the comma-separated items of the last ``[...]`` (``[ A , B ]``, list operations)."""
    quoted = [(m.start(1), m.group(1)) for m in _QUOTED.finditer(text)]
    if quoted:
        return quoted
    start = text.rfind("[")
    end = text.find("]", start + 1) if start >= 0 else -1
    if start < 0:
        return []
    items, offset = [], start + 1
    for part in text[start + 1:end if end >= 0 else len(text)].split(","):
        stripped = part.strip()
        if stripped:
            items.append((offset + part.find(stripped), stripped))
        offset += len(part) + 1
    return items


def _list_units(task: str, sample: Sample, text: str) -> list[tuple[int, bool]] | None:
    target = [item for _, item in list_items(str(sample.target or ""))] or parse_list(sample.target)
    if not target:
        return None
    answer = list_items(text)
    if "shuffle" in task or "random" in task:  # many valid answers: an item is right if it belongs, once
        items = [item for _, item in answer]
        return [(at, item in target and items.count(item) == 1) for at, item in answer]
    return [(at, i < len(target) and item == target[i]) for i, (at, item) in enumerate(answer)]


def token_correctness(task: str, sample: Sample) -> list[tuple[float, bool]]:
    """(commit confidence, correct) of the answer tokens holding a unit (module docstring); [] if unreadable."""
    text, steps, conf = sample.response or "", sample.steps or [], sample.confidence
    if not text or not conf or len(conf) != len(steps):
        return []
    if "sudoku" in task:
        units = _sudoku_units(sample, text)
    elif "latin_square" in task:
        target = parse_list(sample.target) or str(sample.target or "").splitlines()
        units = _latin_units(text, len([t for t in target if t]))
    else:
        units = _list_units(task, sample, text)
    by_token: dict[int, bool] = {}
    for at, ok in units or []:
        token = char_to_token(at, len(text), len(conf))
        by_token[token] = by_token.get(token, True) and ok
    return [(conf[t], ok) for t, ok in sorted(by_token.items())]


def calibration_rows(runs: Sequence[TaskRun], correct_at: float = 0.5,
                     bins: int = BINS) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], list[dict]]]:
    """ECE rows per (model, task, setting, level) and the reliability bins pooled per (model, setting, level)."""
    rows: list[dict[str, Any]] = []
    pooled: dict[tuple[str, str, str], tuple[list[float], list[bool]]] = defaultdict(lambda: ([], []))
    for run in runs:
        traced = [s for s in run.samples.values() if s.confidence and s.score is not None]
        if run.autoregressive or not traced:
            continue
        levels: dict[str, tuple[list[float], list[bool]]] = {
            "sample mean": ([float(np.mean(s.confidence)) for s in traced], [s.score >= correct_at for s in traced]),
            "sample min": ([min(s.confidence) for s in traced], [s.score >= correct_at for s in traced])}
        if any(kind in run.task for kind in TOKEN_LEVEL):
            pairs = [p for s in traced for p in token_correctness(run.task, s)]
            levels["token"] = ([c for c, _ in pairs], [ok for _, ok in pairs])
        for level, (conf, hit) in levels.items():
            ece, _ = equal_mass_bins(conf, hit, bins)
            rows.append({"model": run.model, "task": run.task, "setting": run.setting.label, "level": level,
                         "n": len(conf), "ece": ece, "confidence": mean_defined(conf),
                         "accuracy": mean_defined([float(h) for h in hit])})
            pooled[(run.model, run.setting.label, level)][0].extend(conf)
            pooled[(run.model, run.setting.label, level)][1].extend(hit)
    diagrams = {key: equal_mass_bins(conf, hit, bins)[1] for key, (conf, hit) in pooled.items()}
    return rows, diagrams


# ---------------------------------------------------------------- knee of any swept knob
def knee_index(points: Sequence[tuple[float, float]]) -> int | None:
    """Index (into ``points``) of the Kneedle knee of (AFP, score) points; None where undefined."""
    if len(points) < 3:
        return None
    order = sorted(range(len(points)), key=lambda i: points[i][0])
    x = np.array([points[i][0] for i in order], dtype=float)
    y = np.array([points[i][1] for i in order], dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    xn, yn = (x - x.min()) / np.ptp(x), (y - y.min()) / np.ptp(y)
    above = yn - (yn[0] + (yn[-1] - yn[0]) * xn)
    best = int(np.argmax(above[1:-1])) + 1
    return order[best] if above[best] >= KNEE_MIN_HEIGHT else None


def _knobs(run: TaskRun) -> dict[str, Any]:
    knobs = {"strategy": run.setting.strategy, **dict(run.setting.others)}
    if run.setting.primary is not None:
        knobs[run.setting.primary] = run.setting.value
    return knobs


def knee_rows(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """Per (model, knob, the other knobs): each setting's mean AFP and score over tasks, the knee marked."""
    means: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        if run.autoregressive:
            continue
        entry = means.setdefault((run.model, run.setting.label), {"knobs": _knobs(run), "afp": [], "score": []})
        entry["afp"].append(run.metrics.get("afp"))
        entry["score"].append(run.score)
    rows = []
    for model in sorted({m for m, _ in means}):
        mine = {label: e for (m, label), e in means.items() if m == model}
        for knob in sorted({k for e in mine.values() for k in e["knobs"]} - {"strategy"}):
            lines: dict[str, list[tuple[str, Any]]] = defaultdict(list)
            for label, e in mine.items():
                rest = {k: v for k, v in e["knobs"].items() if k != knob}
                lines[", ".join(f"{k}={v}" for k, v in sorted(rest.items()))].append((label, e["knobs"].get(knob)))
            for rest, members in sorted(lines.items()):
                members.sort(key=lambda m: (not isinstance(m[1], (int, float)), m[1] if isinstance(
                    m[1], (int, float)) else str(m[1])))  # by knob value, numbers numerically
                if len({str(v) for _, v in members}) < 3:
                    continue
                points = [(mean_defined(mine[label]["afp"]), mean_defined(mine[label]["score"]))
                          for label, _ in members]
                complete = all(a is not None and s is not None for a, s in points)
                knee = knee_index(points) if complete else None  # type: ignore[arg-type]
                for i, ((label, value), (afp_mean, score)) in enumerate(zip(members, points)):
                    rows.append({"model": model, "knob": knob, "line": rest, "value": value, "setting": label,
                                 "afp": afp_mean, "score": score, "knee": i == knee})
    return rows


# ---------------------------------------------------------------- autoregressive baseline
def ar_gap_rows(runs: Sequence[TaskRun]) -> list[dict[str, Any]]:
    """Per task, and per suite domain: each MDLM setting's score minus each autoregressive model's score."""
    scopes: dict[str, list[TaskRun]] = defaultdict(list)
    for run in runs:
        scopes[run.task].append(run)
        domain, _ = suite_info(run.task)
        if domain is not None:
            scopes[f"domain: {domain}"].append(run)
    rows = []
    for scope, members in sorted(scopes.items()):
        ar = defaultdict(list)
        mdlm = defaultdict(list)
        for run in members:
            (ar[run.model] if run.autoregressive else mdlm[(run.model, run.setting.label)]).append(run.score)
        for ar_model, ar_scores in sorted(ar.items()):
            for (model, setting), scores in sorted(mdlm.items()):
                a, m = mean_defined(ar_scores), mean_defined(scores)
                rows.append({"scope": scope, "ar_model": ar_model, "ar_score": a, "model": model, "setting": setting,
                             "score": m, "gap": None if a is None or m is None else m - a})
    return rows
