"""Temperature is honoured on our own tasks, and ``--use_cache`` resumes a killed run without mixing configs.

Our task YAMLs set ``do_sample: false`` (ParallelBench decodes greedily); an explicit temperature must still
sample, and a sweep's temperature cell must be what its name says. ``--use_cache``: a run killed with SIGKILL
mid-generation leaves the answers it finished in the cache (written per request); the rerun computes only the
rest, gives the uncached run's answers and writes every trace; a run under another configuration is refused
the same cache.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from lm_eval_mdlm.report.sweep import SweepOptions, run_sweep

from test_cli import read_outputs, smoke_tasks  # noqa: F401  (smoke_tasks: a fixture used below)

LIST_TASK = "parallelbench_list_ops_copy_gen"  # its YAML says do_sample: false


def cell_outputs(folder: Path) -> tuple[list[str], list[dict]]:
    _, samples, traces = read_outputs(folder)
    return [s["resps"][0][0] for s in sorted(samples[LIST_TASK], key=lambda s: s["doc_id"])], traces


def test_temperature_cell_samples_although_the_task_says_do_sample_false(tiny_bert: str, tmp_path: Path) -> None:
    options = SweepOptions(model_args=f"pretrained={tiny_bert}", output_path=str(tmp_path), limit=4, device="cpu",
                           batch_size="4")
    result = run_sweep(["temperature=0,1.5"], [LIST_TASK], options, log=lambda _: None)
    cells = {dict(cell.knobs)["temperature"]: result.folders[cell] for cell in result.ran}
    greedy, greedy_traces = cell_outputs(cells[0.0])
    sampled, sampled_traces = cell_outputs(cells[1.5])
    assert {t["config"]["temperature"] for t in greedy_traces} == {0.0}
    assert {t["config"]["temperature"] for t in sampled_traces} == {1.5}
    assert sampled != greedy


def lm_eval_args(model: str, tasks: Path, out: Path, cache: Path, strategy: str = "topk") -> list[str]:
    return ["--model", "mdlm", "--model_args", f"pretrained={model},strategy={strategy}", "--tasks",
            "mdlm_smoke_plain", "--include_path", str(tasks), "--batch_size", "1", "--device", "cpu",
            "--log_samples", "--output_path", str(out), "--use_cache", str(cache)]


# lm_eval's own CLI, with a SIGKILL at the start of the third answer (after two were finished)
KILLED_RUN = textwrap.dedent("""
    import os, signal, sys, time
    from lm_eval.__main__ import cli_evaluate
    from lm_eval_mdlm import model

    finish, answered = model.MDLM._finish, []

    def dying_finish(self, *args, **kwargs):
        if len(answered) == 2:
            time.sleep(1.0)  # sqlitedict commits in a background thread; then die as kill -9 would
            os.kill(os.getpid(), signal.SIGKILL)
        answered.append(1)
        return finish(self, *args, **kwargs)

    model.MDLM._finish = dying_finish
    sys.argv = ["lm_eval"] + sys.argv[1:]
    cli_evaluate()
    """)


def run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                               "HF_DATASETS_OFFLINE": "1"})
    assert not check or proc.returncode == 0, proc.stderr[-5000:]
    return proc


def answers(out: Path) -> tuple[list[str], list[dict]]:
    """Answers by doc id, and traces by doc id without ``request_index`` (a position in one call's list)."""
    _, samples, traces = read_outputs(out)
    rows = sorted(samples["mdlm_smoke_plain"], key=lambda s: s["doc_id"])
    return [s["resps"][0][0] for s in rows], sorted(({k: v for k, v in t.items() if k != "request_index"}
                                                      for t in traces), key=lambda t: t["doc_id"])


def test_use_cache_resumes_a_killed_run_and_refuses_another_config(tiny_bert: str, smoke_tasks: Path,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "mdlm"
    run([sys.executable, "-m", "lm_eval", *lm_eval_args(tiny_bert, smoke_tasks, tmp_path / "plain",
                                                          tmp_path / "other_cache")])
    reference, reference_traces = answers(tmp_path / "plain")

    killed = run([sys.executable, "-c", KILLED_RUN, *lm_eval_args(tiny_bert, smoke_tasks, tmp_path / "killed",
                                                                   cache)], check=False)
    assert killed.returncode == -9 and not list((tmp_path / "killed").rglob("results_*.json"))

    resumed = run([sys.executable, "-m", "lm_eval", *lm_eval_args(tiny_bert, smoke_tasks, tmp_path / "resumed",
                                                                   cache)])
    assert re.search(r"Cached requests: 2, Requests remaining: 2", resumed.stderr), resumed.stderr[-3000:]
    assert answers(tmp_path / "resumed") == (reference, reference_traces)  # cached traces written too

    full = run([sys.executable, "-m", "lm_eval", *lm_eval_args(tiny_bert, smoke_tasks, tmp_path / "cached", cache)])
    assert "Cached requests: 4, Requests remaining: 0" in full.stderr
    assert answers(tmp_path / "cached") == (reference, reference_traces)

    other = run([sys.executable, "-m", "lm_eval", *lm_eval_args(tiny_bert, smoke_tasks, tmp_path / "threshold",
                                                                 cache, strategy="threshold")], check=False)
    assert other.returncode != 0
    assert re.search(r"--use_cache .*mdlm_rank0.db holds answers of another configuration \(decode_config: "
                     r"cached \{.*'strategy': 'topk'.*now \{.*'strategy': 'threshold'", other.stderr), \
        other.stderr[-3000:]
