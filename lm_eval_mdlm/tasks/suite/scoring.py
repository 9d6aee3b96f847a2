"""``process_results`` of the suite: every task reports ``score`` (1 correct, 0 not) on the strict answer.

Why one metric name: domain groups average ``score`` over their benchmarks (as the model cards'
domain averages do), which needs one name. ``results`` holds the strictly extracted answer (the
task's ``strict`` filter), or :data:`~.extract.MISSING`, which never scores. Code is run in a
subprocess with a time limit; such tasks carry ``unsafe_code: true`` (lm-eval's convention: they
need ``--confirm_run_unsafe_code``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import string
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from lm_eval_mdlm.tasks.suite import bfcl
from lm_eval_mdlm.tasks.suite.extract import MISSING, countdown_correct, normalize_number
from lm_eval_mdlm.tasks.suite.korbench import score as score_korbench  # noqa: F401 - named by the task YAML

TIMEOUT_S = 10.0


def _answer(results: list[str]) -> str | None:
    value = results[0] if results else None
    return None if value in (None, MISSING) else str(value)


_PUNCTUATION = frozenset(string.punctuation)


def normalize_text(text: str) -> str:
    """SQuAD-style: lower case, no punctuation, no articles, single spaces; numbers canonical.

    An answer made only of punctuation (BBH's dyck_languages: ``) ] }``) keeps its symbols, without
    spaces: removing punctuation would turn every such answer into the same empty string."""
    number = normalize_number(text)
    if number is not None:
        return number
    text = text.lower().strip()
    if re.fullmatch(r"\(?[a-z]\)?", text):  # a choice letter: 'a' is not the article here
        return text.strip("()")
    kept = "".join(ch for ch in text if ch not in _PUNCTUATION)
    if not kept.strip():
        return "".join(text.split())
    return " ".join(w for w in kept.split() if w not in ("a", "an", "the"))


def score_match(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """The answer equals one accepted answer after :func:`normalize_text`; an empty answer never scores."""
    pred = _answer(results)
    golds = {g for g in (normalize_text(a) for a in json.loads(doc["mdlm_answers"])) if g}
    return {"score": float(pred is not None and normalize_text(pred) in golds)}


def score_math(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Boxed answer equivalent to one accepted answer (lm-eval's MATH normalisation, or equal numbers)."""
    from lm_eval.tasks.hendrycks_math.utils import is_equiv

    pred = _answer(results)
    if pred is None:
        return {"score": 0.0}
    ok = any(is_equiv(pred, gold)
             or (normalize_number(pred) is not None and normalize_number(pred) == normalize_number(gold))
             for gold in json.loads(doc["mdlm_answers"]))
    return {"score": float(ok)}


def run_program(source: str, language: str = "python", stdin: str = "") -> tuple[bool, str]:
    """(exited cleanly, stdout) of ``source`` in a subprocess with :data:`TIMEOUT_S` seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        if language == "cpp":
            src, exe = Path(tmp) / "main.cpp", Path(tmp) / "main"
            src.write_text(source)
            try:
                built = subprocess.run(["g++", "-std=c++17", "-O1", str(src), "-o", str(exe)], capture_output=True,
                                       timeout=60)
            except FileNotFoundError as exc:
                raise RuntimeError("mdlm_suite_multipl_e_cpp needs g++ on PATH to compile the answers.") from exc
            if built.returncode:
                return False, ""
            command = [str(exe)]
        else:
            src = Path(tmp) / "main.py"
            src.write_text(source)
            command = [sys.executable, str(src)]
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp)
        except subprocess.TimeoutExpired:
            return False, ""
        return done.returncode == 0, done.stdout


def score_program(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Code answer between the doc's ``prefix`` and ``suffix`` (tests) runs without error."""
    pred = _answer(results)
    check = json.loads(doc["mdlm_answers"])
    if pred is None:
        return {"score": 0.0}
    ok, _ = run_program(check["prefix"] + pred + check["suffix"], check.get("language", "python"))
    return {"score": float(ok)}


def score_cruxeval(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """CRUXEval as the official ``evaluate_generations.py``: run ``{code}\nassert {output} == {answer}``.

    Output prediction: the answer is a Python literal (an answer that just calls ``f(input)`` scores 0, as
    there). Input prediction: the answer is the call ``f(...)`` (without ``f(`` it scores 0, as there); an
    ``assert f(x) == y`` answer is cut at ``==`` as the official post-processing does."""
    pred = _answer(results)
    check = json.loads(doc["mdlm_answers"])
    if pred is None:
        return {"score": 0.0}
    pred = pred.removeprefix("assert").strip()
    if check["mode"] == "input":
        pred = pred.split("==")[0].strip()
        if "f(" not in pred:
            return {"score": 0.0}
    else:
        pred = pred.split("==")[1].strip() if "==" in pred else pred
        if f"f({check['input']})" in pred:
            return {"score": 0.0}
    ok, _ = run_program(f"{check['program']}\nassert {check['output']} == {pred}\n")
    return {"score": float(ok)}


def score_stdio(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """LiveCodeBench: the program prints the expected output (whitespace-trimmed) for every test input."""
    pred = _answer(results)
    if pred is None:
        return {"score": 0.0}
    for case in json.loads(doc["mdlm_answers"])["stdio"]:
        ok, out = run_program(pred, stdin=case["input"])
        if not ok or out.strip().split() != case["output"].strip().split():
            return {"score": 0.0}
    return {"score": 1.0}


def score_sql(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Spider execution accuracy: the same multiset of rows as the reference query (read-only DB)."""
    pred = _answer(results)
    check = json.loads(doc["mdlm_answers"])
    if pred is None:
        return {"score": 0.0}
    with sqlite3.connect(f"file:{check['db_path']}?mode=ro", uri=True) as db:
        gold = Counter(db.execute(check["query"]).fetchall())
        try:
            got = Counter(db.execute(pred).fetchall())
        except sqlite3.Error:
            return {"score": 0.0}
    return {"score": float(got == gold)}


def score_bfcl(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """BFCL's AST checker (:mod:`.bfcl`): the predicted calls against the ground truth and the functions' types."""
    pred = _answer(results)
    check = json.loads(doc["mdlm_answers"])
    if pred is None:
        return {"score": 0.0}
    return {"score": float(bfcl.calls_ok(check["functions"], json.loads(pred), check["ground_truth"]))}


def sudoku_valid(grid: str, puzzle: str) -> bool:
    """81 digits forming a valid Sudoku that keeps every given of ``puzzle``."""
    if len(grid) != 81 or any(p != "0" and p != g for p, g in zip(puzzle, grid)):
        return False
    units = [[r * 9 + c for c in range(9)] for r in range(9)] + [[r * 9 + c for r in range(9)] for c in range(9)]
    units += [[(br + r) * 9 + bc + c for r in range(3) for c in range(3)] for br in (0, 3, 6) for bc in (0, 3, 6)]
    return all(sorted(grid[i] for i in unit) == list("123456789") for unit in units)


def score_sudoku(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    pred = _answer(results)
    return {"score": float(pred is not None and sudoku_valid(pred, json.loads(doc["mdlm_answers"])["puzzle"]))}


def score_countdown(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    check = json.loads(doc["mdlm_answers"])
    return {"score": float(countdown_correct(_answer(results), check["numbers"], check["target"]))}


def score_ifeval(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """IFEval through lm-eval's own checker; ``score`` = its strict prompt-level accuracy."""
    from lm_eval_mdlm.tasks.suite.deps import ensure_punkt_tab, require

    require("mdlm_suite_ifeval", ["langdetect", "immutabledict", "nltk"])
    ensure_punkt_tab()
    from lm_eval.tasks.ifeval.utils import process_results

    out = process_results(doc, [_answer(results) or ""])
    return {"score": float(out["prompt_level_strict_acc"]),
            "prompt_level_loose_acc": float(out["prompt_level_loose_acc"])}
