"""The AFP/tau paper's analyses in ``report``: every statistic on hand-built inputs with known answers,
including degenerate ones (a single step, all correct, all wrong), and NaN-free output."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import pytest

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.metrics.decoding import (easier_first_share, quantile_bounds, repeated_ngram_rate, segment_order,
                                           spearman_rho)
from lm_eval_mdlm.report.calibration import equal_mass_bins, knee_index, token_correctness
from lm_eval_mdlm.report.load import Sample
from lm_eval_mdlm.report.order import char_to_token, given_grid, marker_split, stage_profile, sudoku_order
from lm_eval_mdlm.report.write import build_report
from tests.test_sweep_report import needs_matplotlib, png_meta, read_csv

AR = "autoregressive (AFP, tau=1 by construction)"
PUZZLE = "2104\n4012\n0041\n1423"
SOLUTION = "2134\n4312\n3241\n1423"
PB_DOC = {"prompt": f"Fill the grid.\n\nInput:\n{PUZZLE}\nOutput:\n", "target": SOLUTION}
BLANK_CHARS = (2, 6, 10, 11)  # cells (0,2) (1,1) (2,0) (2,1) in the one-character-per-token answer


# ---------------------------------------------------------------- per-sample statistics
def test_rank_statistics_have_closed_forms() -> None:
    assert spearman_rho([1, 1, 1, 2], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(15))
    assert spearman_rho([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman_rho([1, 1], [1, 2]) is None  # constant input: undefined, not 0
    assert easier_first_share([1, 2, 3], [1, 1, 2]) == (1.0, 2)  # the tied-step pair does not count
    assert easier_first_share([1, 2, 3], [3, 2, 1]) == (0.0, 3)
    assert easier_first_share([2, 2], [1, 2]) == (None, 0)


def test_repetition_rate_and_quantiles() -> None:
    assert repeated_ngram_rate("a b a b a b") == pytest.approx(1 - 2 / 4)
    assert repeated_ngram_rate("one two three four") == 0.0
    assert repeated_ngram_rate("too short") is None
    assert quantile_bounds(10, 5) == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert quantile_bounds(3, 5) == [(0, 0), (0, 1), (1, 1), (1, 2), (2, 3)]
    assert segment_order([]) == (None, None)
    assert segment_order([4, 4, 4]) == (3.0, None)  # a single step: AFP = n, tau undefined


def test_stage_profile_and_marker_split() -> None:
    # 10 tokens: the first half left to right one per step, the second half in one step
    sample = Sample(0, steps=[1, 2, 3, 4, 5, 6, 6, 6, 6, 6], response="abcdeAnswer: 42")  # 15 chars
    profile = stage_profile(sample, 5)
    assert profile[0] == (1.0, 1.0) and profile[1] == (1.0, 1.0)
    assert profile[4] == (2.0, None)
    # the marker starts at char 5 -> token 5 * 10 // 15 = 3: reasoning = steps[:3], final = steps[3:]
    assert char_to_token(5, 15, 10) == 3
    (r_afp, r_tau), (f_afp, f_tau) = marker_split(sample)
    assert (r_afp, r_tau) == (1.0, 1.0)
    assert f_afp == pytest.approx(7 / 3) and f_tau == pytest.approx(segment_order([4, 5, 6, 6, 6, 6, 6])[1])
    assert marker_split(Sample(0, steps=[1, 2], response="no marker here")) is None


# ---------------------------------------------------------------- Sudoku: a constructed trace with a known order
def sudoku_sample(blank_steps: list[int], response: str = SOLUTION, confidence: list[float] | None = None) -> Sample:
    steps = [1] * len(response)
    for at, step in zip(BLANK_CHARS, blank_steps):
        steps[at] = step
    return Sample(0, score=float(response == SOLUTION), steps=steps, response=response, doc=PB_DOC,
                  target=SOLUTION, confidence=confidence)


def test_sudoku_difficulty_and_fill_order_on_a_known_trace() -> None:
    assert given_grid(PB_DOC) == [[2, 1, 0, 4], [4, 0, 1, 2], [0, 0, 4, 1], [1, 4, 2, 3]]
    assert given_grid({"puzzle": "0" * 81})[0] == [0] * 9  # the suite's 9x9 document
    easier_first = sudoku_order(sudoku_sample([2, 3, 4, 5]))
    assert easier_first["difficulty"] == [1, 1, 1, 2] and easier_first["filled"] == [2, 3, 4, 5]
    assert easier_first["kendall"] == pytest.approx(3 / math.sqrt(18))
    assert easier_first["spearman"] == pytest.approx(3 / math.sqrt(15))
    assert (easier_first["easier_first"], easier_first["pairs"]) == (1.0, 3)
    harder_first = sudoku_order(sudoku_sample([3, 4, 5, 2]))
    assert harder_first["kendall"] == pytest.approx(-3 / math.sqrt(18)) and harder_first["easier_first"] == 0.0
    assert sudoku_order(sudoku_sample([2, 2, 2, 2]))["kendall"] is None  # all in one step: undefined
    assert sudoku_order(sudoku_sample([2, 3, 4, 5], response="no grid here at all, sorry")) is None


# ---------------------------------------------------------------- calibration
def test_equal_mass_ece_and_token_correctness() -> None:
    # 4 pairs, 2 bins of 2: bin 1 conf 0.2 acc 0, bin 2 conf 0.9 acc 1 -> ECE = 0.5 * 0.2 + 0.5 * 0.1
    ece, bins = equal_mass_bins([0.9, 0.1, 0.3, 0.9], [True, False, False, True], bins=2)
    assert ece == pytest.approx(0.15) and [b["n"] for b in bins] == [2, 2]
    assert equal_mass_bins([], []) == (None, [])
    assert equal_mass_bins([1.0], [True], bins=10) == (0.0, [{"n": 1, "confidence": 1.0, "accuracy": 1.0,
                                                              "low": 1.0, "high": 1.0}])
    wrong = SOLUTION[:2] + "4" + SOLUTION[3:]  # cell (0,2) wrong
    confidence = [round(0.5 + i / 100, 3) for i in range(len(wrong))]
    pairs = token_correctness("parallelbench_puzzles_sudoku_n4_gen", sudoku_sample([2, 3, 4, 5], wrong, confidence))
    assert len(pairs) == 16 and pairs[2] == (0.52, False) and sum(ok for _, ok in pairs) == 15
    line = Sample(0, steps=[1] * 12, confidence=[0.5] * 12, response='["a", "x"]', target='["a", "b"]')
    assert token_correctness("parallelbench_waiting_line_copy_gen", line) == [(0.5, True), (0.5, False)]
    bare = Sample(0, steps=[1] * 13, confidence=[i / 100 for i in range(13)], response="[ B , A , A ]",
                  target="[A, B, C]")
    # items at chars 2, 6, 10 -> tokens 2, 6, 10 (one char per token); copy: by index, shuffle: belongs and once
    assert token_correctness("parallelbench_list_ops_copy_gen", bare) == [(0.02, False), (0.06, False), (0.1, False)]
    assert [ok for _, ok in token_correctness("parallelbench_list_ops_shuffle_gen", bare)] == [True, False, False]


def test_knee_rule() -> None:
    # accuracy flat then falling: the knee is the last point before the fall
    assert knee_index([(1.0, 0.9), (2.0, 0.89), (3.0, 0.88), (4.0, 0.5), (5.0, 0.1)]) == 2
    assert knee_index([(3.0, 0.88), (1.0, 0.9), (5.0, 0.1), (2.0, 0.89), (4.0, 0.5)]) == 0  # index into input
    assert knee_index([(1.0, 0.9), (2.0, 0.5)]) is None
    assert knee_index([(1.0, 0.5), (2.0, 0.5), (3.0, 0.5)]) is None
    assert knee_index([(1.0, 1.0), (2.0, 0.2), (3.0, 0.1)]) is None  # falls from the start: below the chord


# ---------------------------------------------------------------- end to end on hand-built result folders
def write_folder(folder: Path, task: str, samples: list[dict], knobs: dict | None = None, model: str = "mdlm",
                 date: str = "2025-01-01T00-00-00") -> None:
    """A results file with --log_samples rows and mdlm traces; ``samples``: doc_id, score, steps, conf, text."""
    folder.mkdir(parents=True, exist_ok=True)
    config = asdict(DecodeConfig().replace(**(knobs or {})))
    score = sum(s["score"] for s in samples) / len(samples)
    run_config = {"model": model, "model_args": "pretrained=m"}
    if model == "mdlm":
        run_config["mdlm"] = {"pretrained": "m", "decode_config": config, "decoding_traces": {}}
    data = {"results": {task: {"alias": task, "score,none": score, "afp,none": 1.0}}, "group_subtasks": {task: []},
            "config": run_config, "configs": {task: {"generation_kwargs": {}}},
            "n-samples": {task: {"effective": len(samples)}}}
    (folder / f"results_{date}.json").write_text(json.dumps(data))
    rows, traces = [], []
    for s in samples:
        steps = s.get("steps", [1])
        afp = len(steps) / len(set(steps))
        rows.append({"doc_id": s["doc_id"], "filter": "none", "score": s["score"], "afp": afp,
                     "kendall_tau": s.get("tau"), "resps": [[s.get("text", "x")]], "doc": s.get("doc", {}),
                     "target": s.get("target", "")})
        traces.append({"task_name": task, "doc_id": s["doc_id"], "metrics": {}, "finalization_steps": steps,
                       "commit_confidence": s.get("conf", [0.9] * len(steps)), "config": config})
    (folder / f"samples_{task}_{date}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if model == "mdlm":
        (folder / f"mdlm_traces_{date}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in traces))


def test_report_sections_on_hand_built_runs(tmp_path: Path) -> None:
    gsm, mmlu = "mdlm_suite_gsm8k", "mdlm_suite_mmlu"
    loop = "go go go go go go go go"
    for i, (bl, scores) in enumerate(((4, (1, 1)), (8, (1, 0)), (16, (0, 0)))):  # all correct ... all wrong
        knobs = {"strategy": "threshold", "threshold": 0.9, "block_length": bl}
        write_folder(tmp_path / f"bl{bl}" / "gsm", gsm, [
            {"doc_id": 0, "score": scores[0], "steps": [1, 2, 3, 4], "tau": 1.0, "text": "so 4. The answer is 4"},
            {"doc_id": 1, "score": scores[1], "steps": [1] * 8, "tau": None, "text": loop, "conf": [0.5] * 8},
            {"doc_id": 2, "score": scores[0], "steps": [1, 2, 3, 4], "tau": 1.0, "text": "so 5. The answer is 5"}],
            knobs, date=f"2025-01-0{i + 1}T00-00-00")
        write_folder(tmp_path / f"bl{bl}" / "mmlu", mmlu, [
            {"doc_id": 0, "score": 1.0, "steps": [1, 2], "tau": 1.0, "text": "The answer is B"}],
            knobs, date=f"2025-01-0{i + 1}T00-00-00")
    write_folder(tmp_path / "ar" / "gsm", gsm, [{"doc_id": d, "score": float(d != 1)} for d in range(3)], model="hf")
    write_folder(tmp_path / "ar" / "mmlu", mmlu, [{"doc_id": 0, "score": 0.0}], model="hf")
    report = build_report([tmp_path], plots=False)
    md = (report.out / "report.md").read_text()
    assert "nan" not in md.lower() and "n/a" in md

    domain = {(r["setting"], r["domain"]): r for r in read_csv(report.out / "by_domain.csv")}
    math_bl8 = domain[("threshold=0.9 (block_length=8)", "math")]
    assert float(math_bl8["score"]) == pytest.approx(2 / 3)
    assert float(math_bl8["afp"]) == pytest.approx((1 + 8 + 1) / 3)  # doc1: 8 tokens in one step
    assert (math_bl8["correct_n"], math_bl8["incorrect_afp"]) == ("2", "8.0")
    assert domain[(AR, "knowledge")]["afp"] == "1.0"
    gaps = {(r["scope"], r["setting"]): float(r["gap"]) for r in read_csv(report.out / "ar_gap.csv")}
    assert gaps[("domain: knowledge", "threshold=0.9 (block_length=4)")] == pytest.approx(1.0)
    assert gaps[(gsm, "threshold=0.9 (block_length=16)")] == pytest.approx(-2 / 3)

    knee = read_csv(report.out / "knee.csv")
    assert {r["knob"] for r in knee} == {"block_length"} and [r["value"] for r in knee] == ["4", "8", "16"]
    assert not any(r["knee"] == "True" for r in knee)  # every setting has AFP 1.0: no knee
    calib = {(r["task"], r["setting"], r["level"]): r for r in read_csv(report.out / "calibration.csv")}
    all_wrong = calib[(gsm, "threshold=0.9 (block_length=16)", "sample min")]
    assert float(all_wrong["accuracy"]) == 0.0 and float(all_wrong["ece"]) == pytest.approx((0.9 + 0.5 + 0.9) / 3)
    all_right = calib[(gsm, "threshold=0.9 (block_length=4)", "sample mean")]
    assert float(all_right["ece"]) == pytest.approx((0.1 + 0.5 + 0.1) / 3)

    signature = {(r["task"], r["setting"]): r for r in read_csv(report.out / "failure_signature.csv")}
    looped = signature[(gsm, "threshold=0.9 (block_length=8)")]
    assert (looped["repetitive"], looped["signature"], looped["signature_incorrect"]) == ("1", "1", "1")
    assert signature[(gsm, AR)]["signature"] == ""  # n/a: no trace
    stage = {(r["setting"], r["scope"]): r for r in read_csv(report.out / "by_stage.csv")}
    mmlu_stage = stage[("threshold=0.9 (block_length=4)", mmlu)]
    assert mmlu_stage["marked"] == "1" and mmlu_stage["afp_q1"] == ""  # 2 tokens in 5 ranges: q1 is empty


@needs_matplotlib
def test_report_draws_the_paper_plots(tmp_path: Path) -> None:
    task = "parallelbench_puzzles_sudoku_n4_gen"
    steps = [1] * len(SOLUTION)
    for at, step in zip(BLANK_CHARS, (2, 3, 4, 5)):
        steps[at] = step
    write_folder(tmp_path / "run", task, [{"doc_id": 0, "score": 1.0, "steps": steps, "tau": 0.5, "text": SOLUTION,
                                           "doc": PB_DOC, "target": SOLUTION}])
    write_folder(tmp_path / "suite", "mdlm_suite_gsm8k", [{"doc_id": 0, "score": 1.0, "steps": [1, 2], "tau": 1.0,
                                                           "text": "The answer is 4"}])
    report = build_report([tmp_path])
    domain = png_meta(report.out / "by_domain.png")["axes"]
    assert [a["title"] for a in domain] == ["score (%) by domain", "AFP by domain", "Kendall's tau by domain"]
    meta = png_meta(report.out / "sudoku_order.png")
    assert meta["axes"][0]["points"] == 4 and meta["axes"][0]["xlabel"].startswith("candidates")
    reliability = png_meta(report.out / "reliability_token.png")["axes"][0]
    assert [s["label"] for s in reliability["series"]][0] == "perfect calibration"
    assert {"by_stage_afp.png", "by_stage_tau.png", "reliability_sample_mean.png"} <= set(report.files)
    sudoku = read_csv(report.out / "sudoku_order.csv")[0]
    assert float(sudoku["kendall"]) == pytest.approx(3 / math.sqrt(18)) and sudoku["easier_first"] == "1.0"


def test_a_point_barely_above_the_chord_is_no_knee() -> None:
    # normalized, (2, 0.52) lies 0.02 above the chord from (1, 0) to (3, 1): below KNEE_MIN_HEIGHT (0.05)
    assert knee_index([(1.0, 0.0), (2.0, 0.52), (3.0, 1.0)]) is None
    assert knee_index([(1.0, 0.0), (2.0, 0.6), (3.0, 1.0)]) == 1


def test_suite_sudoku_order_and_cell_calibration() -> None:
    from lm_eval_mdlm.tasks.suite.loaders import sudoku

    doc = sudoku(num_samples=1, seed=0, holes=30)["test"][0]
    response = "Answer:\n" + "\n".join(" ".join(doc["solution"][r * 9:r * 9 + 9]) for r in range(9))
    grid = given_grid(doc)
    blanks = [(r, c) for r in range(9) for c in range(9) if grid[r][c] == 0]
    start = len("Answer:\n")
    cells = {(r, c): start + r * 18 + 2 * c for r, c in blanks}  # "d d d ...\n": 18 characters a row
    difficulty = {b: sudoku_order(Sample(0, steps=[1] * len(response), response=response, doc=doc))["difficulty"][i]
                  for i, b in enumerate(blanks)}
    steps = [1] * len(response)
    for rank, blank in enumerate(sorted(blanks, key=lambda b: difficulty[b])):  # easier blanks first
        steps[cells[blank]] = 2 + rank
    order = sudoku_order(Sample(0, steps=steps, response=response, doc=doc))
    assert len(order["difficulty"]) == 30 and order["easier_first"] == 1.0 and order["kendall"] > 0.5
    sample = Sample(0, steps=steps, response=response, doc=doc, confidence=[0.9] * len(response))
    pairs = token_correctness("mdlm_suite_sudoku", sample)
    assert len(pairs) == 81 and all(ok for _, ok in pairs)


def test_bad_quantiles_is_an_error(tmp_path: Path) -> None:
    from lm_eval_mdlm.report import ReportError

    write_folder(tmp_path / "run", "t", [{"doc_id": 0, "score": 1.0}])
    with pytest.raises(ReportError, match=r"--quantiles 0 is invalid: give an integer >= 1"):
        build_report([tmp_path], plots=False, quantiles=0)
