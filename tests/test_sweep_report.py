"""``lm-eval-mdlm sweep`` and ``report``: PBx and the oracle on hand-built results with known answers,
bad input, and an interrupted-then-resumed sweep on exact and tiny models, reported end to end."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from lm_eval_mdlm import cli
from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.report import ReportError
from lm_eval_mdlm.report import sweep as sweep_module
from lm_eval_mdlm.report.analysis import oracle_rows, pbx_rows
from lm_eval_mdlm.report.load import load_runs
from lm_eval_mdlm.report.sweep import SweepError, SweepOptions, parse_grid, run_sweep
from lm_eval_mdlm.report.write import build_report

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="plots need the report extra: pip install 'lm-eval-mdlm[report]'")
SHUFFLE = "parallelbench_list_ops_shuffle_gen"


# ---------------------------------------------------------------- hand-built lm-eval output
def write_run(folder: Path, tasks: dict[str, dict], date: str, knobs: dict | None = None, traced: bool = True,
              gen_kwargs: dict | None = None, model: str = "mdlm", pretrained: str = "my-mdlm") -> Path:
    """One lm-eval results file (+ samples and traces files) as ``lm_eval --model mdlm`` writes them.

    ``tasks``: {task: {"score": s, "tps": t, "samples": [(doc_id, score, tps, afp, tau), ...]}}. The
    setting is in the traces' config (``traced``) or, as without traces, in the model's decode config
    updated by the task's generation_kwargs (``gen_kwargs``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    effective = asdict(DecodeConfig().replace(**(knobs or {}), **(gen_kwargs or {})))
    base = asdict(DecodeConfig().replace(**(knobs or {})))
    config: dict = {"model": model, "model_args": f"pretrained={pretrained}", "gen_kwargs": gen_kwargs}
    if model == "mdlm":
        config["mdlm"] = {"pretrained": pretrained, "decode_config": base, "decoding_traces": {}}
    results = {t: {"alias": t, "score,none": v["score"], "score_stderr,none": 0.1, "tokens_per_step,none": v["tps"],
                   "nfe,none": 32 / v["tps"], "afp,none": v["tps"], "kendall_tau,none": 0.5}
               for t, v in tasks.items()}
    data = {"results": results, "group_subtasks": {t: [] for t in tasks}, "config": config,
            "configs": {t: {"generation_kwargs": {"until": ["\n\n"], "max_gen_toks": 32, **(gen_kwargs or {})}}
                        for t in tasks}, "n-samples": {t: {"effective": len(v.get("samples", []))}
                                                       for t, v in tasks.items()}}
    (folder / f"results_{date}.json").write_text(json.dumps(data))
    records = []
    for task, values in tasks.items():
        rows = [{"doc_id": d, "filter": "none", "score": s, "tokens_per_step": tps, "afp": afp, "kendall_tau": tau}
                for d, s, tps, afp, tau in values.get("samples", [])]
        if rows:
            (folder / f"samples_{task}_{date}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        records += [{"task_name": task, "doc_id": r["doc_id"], "metrics": {}, "finalization_steps": [1, 1, 2],
                     "config": effective} for r in rows]
    if traced and records:
        (folder / f"mdlm_traces_{date}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def png_meta(path: Path) -> dict:
    """The figure description stored in the PNG; also checks the image decodes and is not blank."""
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        low, high = image.convert("L").getextrema()
        assert image.size[0] > 300 and image.size[1] > 200 and low < high, path
        return json.loads(image.text["lm-eval-mdlm"])


# ---------------------------------------------------------------- PBx and the oracle: known answers
def test_pbx_on_hand_built_results(tmp_path: Path) -> None:
    # (setting, score A, tps A, score B, tps B): means 95/1.0, 85/2.0, 55/4.0, 90/2.5, 60/4.5
    table = [({"k": 1}, 1.0, 1.0, 0.9, 1.0), ({"k": 2}, 0.9, 2.0, 0.8, 2.0), ({"k": 4}, 0.6, 4.0, 0.5, 4.0),
             ({"strategy": "threshold", "threshold": 0.9}, 0.95, 1.5, 0.85, 3.5),
             ({"strategy": "threshold", "threshold": 0.5}, 0.7, 3.0, 0.5, 6.0)]
    for i, (knobs, sa, ta, sb, tb) in enumerate(table):
        write_run(tmp_path / f"run{i}", {"A": {"score": sa, "tps": ta}, "B": {"score": sb, "tps": tb}},
                  date=f"2025-01-0{i + 1}T00-00-00", knobs=knobs, traced=False)
    runs, _ = load_runs([tmp_path])
    pbx = {(r["family"], r["x"]): (r["pbx"], r["setting"]) for r in pbx_rows(runs)}
    assert pbx[("(all settings)", 50)] == (4.5, "threshold=0.5")
    assert pbx[("(all settings)", 80)] == (2.5, "threshold=0.9")
    assert pbx[("(all settings)", 90)] == (2.5, "threshold=0.9")  # 89.99999999999999 % counts as 90
    assert pbx[("(all settings)", 95)] == (1.0, "topk k=1")
    assert [pbx[("topk", x)][0] for x in (50, 80, 90, 95)] == [4.0, 2.0, 1.0, 1.0]
    assert [pbx[("threshold", x)][0] for x in (50, 80, 90, 95)] == [4.5, 2.5, 2.5, None]
    report = build_report([tmp_path], plots=False)
    rows = read_csv(report.out / "pbx.csv")
    assert {(r["family"], r["x"], r["pbx"]) for r in rows} >= {("(all settings)", "90", "2.5"), ("threshold", "95", "")}
    assert "| my-mdlm | (all settings) | 95 | 1.00 | topk k=1 | 95.0 |" in (report.out / "report.md").read_text()


def test_oracle_point_and_correctness_split_on_hand_built_samples(tmp_path: Path) -> None:
    # doc: score and tps per threshold. Oracle: doc0 -> 0.5, doc1 -> 0.7, doc2 -> 0.9, doc3 (never right) -> 0.5;
    # doc 4 is missing at 0.7, so it is left out.
    per_threshold = {0.5: [(0, 1, 4.0), (1, 0, 5.0), (2, 0, 6.0), (3, 0, 3.0), (4, 1, 9.0)],
                     0.7: [(0, 1, 2.0), (1, 1, 2.5), (2, 0, 3.0), (3, 0, 2.0)],
                     0.9: [(0, 1, 1.0), (1, 1, 1.2), (2, 1, 1.4), (3, 0, 1.0), (4, 1, 1.0)]}
    for i, (threshold, rows) in enumerate(sorted(per_threshold.items(), reverse=True)):  # file order != knob order
        samples = [(d, s, t, 1.0 + d, 0.1 * d) for d, s, t in rows]
        # 0.7 has no traces: its setting is rebuilt from gen_kwargs, as for a run without traces
        write_run(tmp_path / f"t{threshold}", {"A": {"score": 0.5, "tps": 2.0, "samples": samples}},
                  date=f"2025-02-0{i + 1}T00-00-00", gen_kwargs={"strategy": "threshold", "threshold": threshold},
                  traced=threshold != 0.7)
    for k, scores in ((1, [1, 1]), (2, [1, 0])):  # topk: largest k reaching the best -> doc0: k=2, doc1: k=1
        write_run(tmp_path / f"k{k}", {"A": {"score": 0.5, "tps": float(k), "samples": [
            (d, s, float(k), 1.0, 0.0) for d, s in enumerate(scores)]}}, date=f"2025-03-0{k}T00-00-00", knobs={"k": k})
    runs, _ = load_runs([tmp_path])
    assert sorted(r.setting.label for r in runs) == ["threshold=0.5", "threshold=0.7", "threshold=0.9",
                                                     "topk k=1", "topk k=2"]
    oracle = {o["family"]: o for o in oracle_rows(runs)}
    assert oracle["threshold"]["score"] == pytest.approx(0.75)
    assert oracle["threshold"]["tokens_per_step"] == pytest.approx((4.0 + 2.5 + 1.4 + 3.0) / 4)
    assert oracle["threshold"]["samples"] == 4
    assert oracle["topk"]["score"] == 1.0 and oracle["topk"]["tokens_per_step"] == pytest.approx(1.5)
    report = build_report([tmp_path], plots=False)
    split = {r["setting"]: r for r in read_csv(report.out / "correctness.csv")}
    # threshold 0.9: correct docs 0, 1, 2, 4 (afp 1+d), incorrect doc 3
    assert split["threshold=0.9"]["correct_n"] == "4" and float(split["threshold=0.9"]["correct_afp"]) == 2.75
    assert float(split["threshold=0.9"]["incorrect_kendall_tau"]) == pytest.approx(0.3)
    assert split["(all settings)"]["correct_n"] == str(2 + 2 + 4 + 2 + 1)
    assert [r["task"] for r in read_csv(report.out / "oracle.csv")] == ["A", "A"]


# ---------------------------------------------------------------- bad input: clear errors, nothing written
def test_bad_input_gives_clear_errors_and_writes_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReportError, match="no lm-eval results"):
        build_report([empty])
    assert cli.main(["report", str(empty)]) == 2 and "no lm-eval results" in capsys.readouterr().err
    assert list(empty.iterdir()) == []

    runs = tmp_path / "runs"
    write_run(runs / "a", {"A": {"score": 1.0, "tps": 1.0}, "B": {"score": 1.0, "tps": 1.0}}, "2025-01-01",
              knobs={"k": 1})
    write_run(runs / "b", {"A": {"score": 0.5, "tps": 2.0}}, "2025-01-02", knobs={"k": 2})
    with pytest.raises(ReportError, match=r"topk k=2 lacks B.*--tasks A"):
        build_report([runs], plots=False)
    assert not (runs / "report").exists()
    first = build_report([runs], tasks=["A"], plots=False)  # the suggested fix works
    before = {p.name: p.read_bytes() for p in first.out.iterdir()}

    write_run(runs / "hf", {"A": {"score": 0.3, "tps": 1.0}}, "2025-01-03", model="hf")
    with_ar = build_report([runs], tasks=["A"], plots=False, out=tmp_path / "with_ar")  # AR rows beside mdlm ones
    assert ("hf: pretrained=my-mdlm", "autoregressive (AFP, tau=1 by construction)", "0.3") in {
        (r["model"], r["setting"], r["score"]) for r in read_csv(with_ar.out / "summary.csv")}
    (runs / "hf" / "results_2025-01-03.json").unlink()

    with pytest.raises(ReportError, match="--metric exact_match.*its metrics are: score,none"):
        build_report([runs], tasks=["A"], metric="exact_match", plots=False)
    with pytest.raises(ReportError, match="not a report folder"):
        build_report([runs], tasks=["A"], out=runs / "a", plots=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    with pytest.raises(ReportError, match=r"pip install 'lm-eval-mdlm\[report\]'.*--no_plots"):
        build_report([runs], tasks=["A"])
    assert {p.name: p.read_bytes() for p in first.out.iterdir()} == before
    assert not [p for p in runs.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_sweep_rejects_bad_grids_and_tasks_before_running(tmp_path: Path) -> None:
    assert parse_grid(["strategy=topk k=1,2", "strategy=topk k=2", "strategy=threshold threshold=0.5"]) == [
        {"strategy": "topk", "k": 1}, {"strategy": "topk", "k": 2}, {"strategy": "threshold", "threshold": 0.5}]
    options = SweepOptions(model_args="pretrained=oracle:shuffle", output_path=str(tmp_path / "out"), device="cpu")
    with pytest.raises(SweepError, match="unknown decoding option kk=.*valid options"):
        run_sweep(["kk=1,2"], [SHUFFLE], options)
    with pytest.raises(SweepError, match="grid cell strategy=threshold k=2: k=2 has no effect"):
        run_sweep(["strategy=threshold k=2"], [SHUFFLE], options)
    with pytest.raises(SweepError, match="not KEY=V1,V2"):
        run_sweep(["k"], [SHUFFLE], options)
    with pytest.raises(SweepError, match="did you mean parallelbench_list_ops_shuffle_gen"):
        run_sweep(["k=1"], ["parallelbench_list_ops_shufle_gen"], options)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- end to end
@needs_matplotlib
def test_interrupted_sweep_resumes_and_reports_end_to_end(tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "sweep"
    grid = ["strategy=topk k=1,2,4", "strategy=threshold threshold=0.3,0.7"]
    options = SweepOptions(model_args="pretrained=oracle:shuffle,batch_size=16", output_path=str(out), limit=10,
                           device="cpu")
    real, calls = sweep_module._evaluate_cell, []

    def interrupted(*args, **kwargs):  # Ctrl-C while the third cell is being saved
        calls.append(args[1])
        real(*args, **kwargs)
        if len(calls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "_evaluate_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(grid, [SHUFFLE], options, log=lambda _: None)
    finished = sorted(p.relative_to(out).parts[1] for p in out.glob("*/*/oracle__shuffle"))
    assert finished == ["topk_k-1", "topk_k-2"] and not (out / ".partial").exists()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("results_*.json")}
    monkeypatch.setattr(sweep_module, "_evaluate_cell", real)

    assert cli.main(["sweep", "--model_args", "pretrained=oracle:shuffle,batch_size=16", "--tasks", SHUFFLE,
                     "--grid", grid[0], "--grid", grid[1], "--limit", "10", "--device", "cpu",
                     "--output_path", str(out)]) == 0
    assert "ran 3 cell(s), 2 already finished" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # finished cells were not run again
    assert len(list(out.rglob("results_*.json"))) == 5 and len(list(out.rglob("mdlm_traces_*.jsonl"))) == 5
    assert run_sweep(grid, [SHUFFLE], options, log=lambda _: None).ran == []

    assert cli.main(["report", str(out), "--sample", f"{SHUFFLE}:3"]) == 0
    report = out / "report"
    summary = {r["setting"]: r for r in read_csv(report / "summary.csv")}
    assert list(summary) == ["threshold=0.7", "threshold=0.3", "topk k=1", "topk k=2", "topk k=4"]
    assert float(summary["topk k=1"]["score"]) > float(summary["topk k=4"]["score"])  # shuffle breaks with k
    assert [float(summary[f"topk k={k}"]["tokens_per_step"]) for k in (1, 2, 4)] == sorted(
        float(summary[f"topk k={k}"]["tokens_per_step"]) for k in (1, 2, 4))
    oracle = {r["family"]: r for r in read_csv(report / "oracle.csv")}
    for family in ("topk", "threshold"):  # per-sample best can only beat every single setting
        assert float(oracle[family]["score"]) >= max(float(r["score"]) for r in summary.values()
                                                     if r["family"] == family)
    pooled = [r for r in read_csv(report / "correctness.csv") if r["setting"] == "(all settings)"][0]
    assert int(pooled["correct_n"]) + int(pooled["incorrect_n"]) == 50

    speed = png_meta(report / f"score_vs_tokens_per_step_{SHUFFLE}.png")["axes"][0]
    assert (speed["xlabel"], speed["ylabel"], speed["title"]) == ("tokens per step", "score (%)", SHUFFLE)
    assert speed["legend"] == ["threshold", "topk", "oracle (threshold)", "oracle (topk)"] and speed["points"] == 2
    topk_line = next(s for s in speed["series"] if s["label"] == "topk")
    assert topk_line["x"] == [float(summary[f"topk k={k}"]["tokens_per_step"]) for k in (1, 2, 4)]
    assert topk_line["y"] == pytest.approx([100 * float(summary[f"topk k={k}"]["score"]) for k in (1, 2, 4)])
    scatter = png_meta(report / "afp_vs_tau.png")["axes"][0]
    assert scatter["xlabel"].startswith("AFP") and "tau" in scatter["ylabel"]
    assert [t.split(" (")[0] for t in scatter["legend"]] == ["correct", "incorrect"] and scatter["points"] > 0
    heat = png_meta(report / f"decoding_order_{SHUFFLE}_doc3.png")
    assert heat["title"] == f"Decoding order: {SHUFFLE}, doc 3" and len(heat["axes"]) == 5
    axes = {(a["xlabel"], a["ylabel"], a["images"]) for a in heat["axes"]}
    assert axes == {("answer position", "finalization step", 1)}
    markdown = (report / "report.md").read_text()
    assert "## PBx" in markdown and "![afp_vs_tau.png](afp_vs_tau.png)" in markdown


@needs_matplotlib
def test_tiny_model_sweep_over_list_tasks_and_a_plain_single_run(tiny_bert: str, tmp_path: Path) -> None:
    import lm_eval
    from lm_eval.loggers import EvaluationTracker

    tasks = ["parallelbench_list_ops_copy_gen", "parallelbench_list_ops_replace_index_gen"]
    options = SweepOptions(model_args=f"pretrained={tiny_bert}", output_path=str(tmp_path / "sweep"), limit=3,
                           device="cpu", batch_size="4")
    result = run_sweep(["k=4,8", "strategy=threshold threshold=0.5"], tasks, options, log=lambda _: None)
    assert len(result.ran) == 6
    report = build_report([tmp_path / "sweep"])
    summary = read_csv(report.out / "summary.csv")
    assert {(r["task"], r["setting"]) for r in summary} == {(t, s) for t in tasks
                                                           for s in ("topk k=4", "topk k=8", "threshold=0.5")}
    for k in (4, 8):  # a random model still decodes exactly k tokens per step until EOS
        assert all(float(r["nfe"]) <= 32 / k for r in summary if r["setting"] == f"topk k={k}")
    mean = png_meta(report.out / "score_vs_tokens_per_step_mean.png")["axes"][0]
    assert mean["title"] == "mean over tasks" and mean["legend"] == ["threshold", "topk", "oracle (topk)"]

    # a run made without sweep, as `lm_eval --model mdlm --output_path ... --log_samples` writes it
    tracker = EvaluationTracker(output_path=str(tmp_path / "single"))
    out = lm_eval.simple_evaluate(model="mdlm", model_args=f"pretrained={tiny_bert}", tasks=tasks[:1], limit=2,
                                  log_samples=True, evaluation_tracker=tracker, gen_kwargs={"k": 2}, device="cpu")
    samples = out.pop("samples")
    tracker.save_results_aggregated(results=out, samples=samples)
    tracker.save_results_samples(task_name=tasks[0], samples=samples[tasks[0]])
    single = build_report([tmp_path / "single"])
    rows = read_csv(single.out / "summary.csv")
    assert [(r["setting"], r["samples"]) for r in rows] == [("topk k=2", "2")]
    assert read_csv(single.out / "oracle.csv") == []  # one setting: no oracle point
    assert png_meta(single.out / f"score_vs_tokens_per_step_{tasks[0]}.png")["axes"][0]["legend"] == ["topk"]
