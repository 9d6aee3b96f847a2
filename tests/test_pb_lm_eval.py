"""ParallelBench through lm-eval itself: discovery, the CLI end to end on a tiny model, offline errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mdlm.tasks.specs import OFFICIAL_TASKS

REPO = Path(__file__).resolve().parents[1]
GROUPS = ["parallelbench", "parallelbench_waiting_line", "parallelbench_text_writing", "parallelbench_puzzles",
          "parallelbench_list_ops", "parallelbench_gen", "parallelbench_waiting_line_gen",
          "parallelbench_waiting_line_gen_n15", "parallelbench_puzzles_gen", "parallelbench_text_writing_gen",
          "parallelbench_list_ops_gen_n15", "parallelbench_waiting_line_n15"]
OFFICIAL_NAMES = [f"parallelbench_{t.replace('/', '_')}" for t in OFFICIAL_TASKS]
OFFLINE_ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARALLELBENCH_")}
    return env | OFFLINE_ENV


def _lm_eval(*args: str, timeout: int = 400) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lm_eval", *args], capture_output=True, text=True,
                          env=_env(), timeout=timeout, cwd=str(REPO))


def test_stock_task_manager_finds_every_task_and_group():
    from lm_eval.tasks import TaskManager

    names = set(TaskManager().all_tasks)
    assert set(OFFICIAL_NAMES) <= names and set(GROUPS) <= names
    assert len(OFFICIAL_NAMES) == 17
    checkout_only = set(TaskManager(include_defaults=False, include_path=str(REPO / "task_yamls")).all_tasks)
    assert set(OFFICIAL_NAMES) | set(GROUPS) <= checkout_only
    generated = {n for n in names if n.startswith("parallelbench_") and n.endswith(("_gen", "_gen_n15"))}
    assert not generated & set(OFFICIAL_NAMES) and len(generated) > 20


def test_official_task_builds_offline_only_up_to_the_data(monkeypatch):
    import datasets
    from lm_eval.tasks import TaskManager

    from lm_eval_mdlm.tasks.sources import ParallelBenchDataError

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.delenv("PARALLELBENCH_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(ParallelBenchDataError, match="'furiosa-ai/ParallelBench' \\(config 'puzzles-latin_square_n4'"):
        TaskManager().load(["parallelbench_puzzles_latin_square_n4"])


def test_metric_list_must_match_the_scorer():
    from lm_eval_mdlm.tasks.lm_task import ParallelBenchTask

    with pytest.raises(ValueError, match="does not match what the 'exact' scorer reports"):
        ParallelBenchTask(config={"task": "x", "dataset_kwargs": {"task": "waiting_line/copy", "source": "generated"},
                                  "metric_list": [{"metric": "score"}]})


@pytest.fixture(scope="module")
def generated_run(tiny_bert, tmp_path_factory) -> Path:
    """``lm_eval --tasks parallelbench_gen --limit 2`` with k=2 tokens per step, offline."""
    pytest.importorskip("harper", reason="harper-py (offline grammar backend) is an optional dependency")
    out = tmp_path_factory.mktemp("out")
    run = _lm_eval("--model", "mdlm", "--model_args", f"pretrained={tiny_bert}", "--tasks", "parallelbench_gen",
                   "--limit", "2", "--gen_kwargs", "k=2", "--apply_chat_template", "--log_samples",
                   "--metadata", '{"grammar_backend": "harper"}', "--output_path", str(out))
    assert run.returncode == 0, run.stderr[-4000:]
    return out


def _results(out: Path) -> dict:
    return json.loads(next(out.rglob("results_*.json")).read_text())


def test_generated_groups_run_end_to_end(generated_run):
    results = _results(generated_run)
    for group in ("parallelbench_gen", "parallelbench_waiting_line_gen", "parallelbench_list_ops",
                  "parallelbench_puzzles_gen", "parallelbench_text_writing_gen"):
        assert 0.0 <= results["results"][group]["score,none"] <= 1.0
    tasks = [t for t in results["configs"]]
    assert len(tasks) == 10 + 4 + 2 + 3 and all(t.endswith("_gen") for t in tasks)
    for task in tasks:
        row = results["results"][task]
        assert 0.0 <= row["score,none"] <= 1.0
        meta = results["configs"][task]["metadata"]
        assert meta["data_source"].startswith("generated offline")
        assert results["n-samples"][task]["effective"] == 2
    w2s = results["configs"]["parallelbench_text_writing_words_to_sentence_hard_gen"]["metadata"]
    assert w2s["grammar_backend"] == "harper" and w2s["grammar_checker"].startswith("harper-py")
    assert {"grammar,none", "inclusion,none"} <= set(
        results["results"]["parallelbench_text_writing_words_to_sentence_hard_gen"])


def test_k_means_max_gen_toks_over_k_steps(generated_run):
    results = _results(generated_run)
    for task, config in results["configs"].items():
        row = results["results"][task]
        length = config["generation_kwargs"]["max_gen_toks"]
        assert row["nfe,none"] == length / 2, task
        assert row["tokens_per_step,none"] == pytest.approx(2.0) and row["afp,none"] == pytest.approx(2.0)


def test_one_shot_example_is_a_user_assistant_turn(generated_run):
    samples = next(generated_run.rglob("samples_parallelbench_waiting_line_copy_gen_*.jsonl")).read_text().splitlines()
    first = json.loads(samples[0])
    prompt = first["arguments"]["gen_args_0"]["arg_0"]
    assert prompt.startswith("<user>You are managing a waiting line")
    assert prompt.count("<user>") == 2 and prompt.count("<assistant>") == 2 and prompt.endswith("<assistant>")
    assert first["arguments"]["gen_args_0"]["arg_1"]["until"] == ["\n\n"]
    assert {"score", "nfe", "afp", "kendall_tau"} <= set(first)


def test_evaluate_modules_reproduce_the_trace_metrics(generated_run):
    evaluate = pytest.importorskip("evaluate", reason="evaluate is an optional dependency")
    from lm_eval_mdlm.evaluate_modules import module_path

    records = [json.loads(line) for line in next(generated_run.rglob("mdlm_traces_*.jsonl")).read_text().splitlines()]
    steps = [r["finalization_steps"] for r in records]
    afp = evaluate.load(module_path("afp")).compute(predictions=steps)["afp_per_sample"]
    tau = evaluate.load(module_path("kendall_tau")).compute(predictions=steps)["kendall_tau_per_sample"]
    for record, a, t in zip(records, afp, tau):
        assert a == pytest.approx(record["metrics"]["afp"])
        expected = record["metrics"]["kendall_tau"]
        assert (t is None and expected is None) or t == pytest.approx(expected)


def test_official_task_without_hub_fails_naming_the_dataset(tiny_bert):
    run = _lm_eval("--model", "mdlm", "--model_args", f"pretrained={tiny_bert}",
                   "--tasks", "parallelbench_text_writing_summarization", "--limit", "2")
    assert run.returncode != 0
    assert "ParallelBenchDataError" in run.stderr
    assert "hub dataset 'furiosa-ai/ParallelBench' (config 'text_writing-summarization'" in run.stderr
