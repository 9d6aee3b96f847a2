"""``accelerate launch -m lm_eval --model mdlm``: 2 CPU processes (gloo) give exactly what 1 process gives.

A generative task and a likelihood (multiple-choice) task run in one invocation with an odd ``--limit``,
so shards are uneven and lm-eval pads the short rank; outputs, metrics and traces must still equal a
single-process run's. The old evaluator contract (lm-eval <= 0.4.11: ``lm.accelerator.gather`` /
``wait_for_everyone``) is driven by a small launched script.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

from lm_eval_mdlm.distributed import Distributed, answer_real_requests

from test_cli import read_outputs  # noqa: E402  (tests/ is on sys.path under pytest)
from test_likelihood import ARC_ITEMS

BIN = Path(sys.executable).parent
LIMIT = 5  # odd: 2 ranks get 3 and 2 docs
MORE_ARC = [
    {"id": "q4", "question": "Which one is a planet?", "answerKey": "C",
     "choices": {"text": ["Sun", "Moon", "Mars"], "label": ["A", "B", "C"]}},
    {"id": "q5", "question": "Water freezes at?", "answerKey": "A",
     "choices": {"text": ["0 C", "50 C", "100 C", "20 C"], "label": ["A", "B", "C", "D"]}},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "MASTER_ADDR": "127.0.0.1", "ACCELERATE_DISABLE_RICH": "1"}


def launch(*args: str) -> list[str]:
    """`accelerate launch` on 2 CPU processes over loopback gloo, no config file needed.

    ``--multi_gpu`` (not ``--cpu``, which starts one process unless MPI is set up) makes accelerate spawn
    the processes with torchrun; on a machine without GPUs the model asks accelerate for CPU (gloo).
    """
    return [str(BIN / "accelerate"), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_ip", "127.0.0.1",
            "--main_process_port", str(free_port()), *args]


def run(command: list[str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(command, capture_output=True, text=True, env=env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


@pytest.fixture(scope="module")
def tasks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local generative copy task and lm-eval's own ARC prompt on a local copy of five items."""
    import lm_eval

    folder = tmp_path_factory.mktemp("dist_tasks")
    copy = folder / "copy.jsonl"
    copy.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["a b", "c d e", "fox", "dog cat", "x y", "z"]))
    (folder / "gen.yaml").write_text(textwrap.dedent(f"""
        task: mdlm_dist_gen
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {copy}
        test_split: test
        output_type: generate_until
        doc_to_text: "Copy: {{{{text}}}}\\nAnswer:"
        doc_to_target: "{{{{text}}}}"
        generation_kwargs:
          until: ["\\n\\n"]
          max_gen_toks: 10
        metric_list:
          - metric: exact_match
            aggregation: mean
            higher_is_better: true
        """))
    arc_data = folder / "arc.jsonl"
    arc_data.write_text("\n".join(json.dumps(item) for item in ARC_ITEMS + MORE_ARC))
    arc = Path(lm_eval.__file__).parent / "tasks" / "arc" / "arc_easy.yaml"
    (folder / "arc.yaml").write_text(
        f"include: {arc}\ntask: mdlm_dist_arc\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {arc_data}\ntraining_split: null\nvalidation_split: null\n"
        "test_split: test\n")
    return folder


def lm_eval_args(model: str, tasks: Path, out: Path) -> list[str]:
    # temperature>0 and a random score: sampled decoding must not depend on the sharding either.
    return ["-m", "lm_eval", "--model", "mdlm", "--model_args",
            f"pretrained={model},likelihood=chain,k=2,score=random,seed=5",
            "--tasks", "mdlm_dist_gen,mdlm_dist_arc", "--include_path", str(tasks), "--limit", str(LIMIT),
            "--batch_size", "2", "--device", "cpu", "--log_samples", "--output_path", str(out)]


def comparable(out: Path) -> tuple[dict, dict, list[dict], dict]:
    results, samples, traces = read_outputs(out)
    samples = {task: sorted(({k: s[k] for k in ("doc_id", "arguments", "resps", "filtered_resps", "target",
                                                   "exact_match", "acc", "acc_norm") if k in s}
                             for s in rows), key=lambda s: s["doc_id"]) for task, rows in samples.items()}
    # request_index is a position within one process's request list: it depends on the sharding.
    traces = sorted(({k: v for k, v in t.items() if k != "request_index"} for t in traces),
                    key=lambda t: (t["task_name"], t["doc_id"]))
    return results["results"], samples, traces, results["config"]["mdlm"]["decoding_traces"]


def test_two_cpu_processes_equal_one(tiny_bert: str, tasks: Path, tmp_path: Path) -> None:
    run([sys.executable, *lm_eval_args(tiny_bert, tasks, tmp_path / "one")])
    run(launch(*lm_eval_args(tiny_bert, tasks, tmp_path / "two")))
    one, two = comparable(tmp_path / "one"), comparable(tmp_path / "two")
    results, samples, traces, summary = two
    # the sharded run really was sharded and padded, and wrote one set of files
    assert read_outputs(tmp_path / "two")[0]["config"]["mdlm"]["world_size"] == 2  # really two ranks
    assert read_outputs(tmp_path / "one")[0]["config"]["mdlm"]["world_size"] == 1
    assert len(list((tmp_path / "two").rglob("results_*.json"))) == 1
    assert len(list((tmp_path / "two").rglob("mdlm_traces_*.jsonl"))) == 1
    assert [s["doc_id"] for s in samples["mdlm_dist_gen"]] == list(range(LIMIT))
    assert [s["doc_id"] for s in samples["mdlm_dist_arc"]] == list(range(LIMIT))
    assert all(len(s["resps"]) == len(s["arguments"]) and all(len(r) == 1 for r in s["resps"])
               for rows in samples.values() for s in rows)  # no duplicated padding answers
    assert [(t["task_name"], t["doc_id"]) for t in traces] == [("mdlm_dist_gen", d) for d in range(LIMIT)]
    assert summary["mdlm_dist_gen"]["samples"] == LIMIT
    # ... and equals the single process: generated answers and traces exactly; likelihoods and aggregates to
    # the relative 1e-6 docs/distributed.md states (a forward over another batch mix sums in another order)
    assert two[1]["mdlm_dist_gen"] == one[1]["mdlm_dist_gen"]
    assert two[2] == one[2]
    assert two[3] == one[3]
    assert within_tolerance(two[1]["mdlm_dist_arc"], one[1]["mdlm_dist_arc"])
    assert within_tolerance(two[0], one[0])


def within_tolerance(got: object, want: object) -> bool:
    """Equal structures whose numbers (or numeric strings, as lm-eval logs likelihoods) agree to 1e-6."""
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(within_tolerance(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(map(within_tolerance, got, want))
    try:
        got_number, want_number = float(got), float(want)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return got == want
    return got_number == pytest.approx(want_number, rel=1e-6, abs=1e-12, nan_ok=True)


OLD_CONTRACT = textwrap.dedent("""
    # What lm-eval <= 0.4.11's evaluator does with a model: lm.accelerator.gather for the shard sizes,
    # padding with the last request, lm.accelerator.wait_for_everyone, torch.distributed.gather_object.
    import json, sys
    import torch
    from lm_eval.api.instance import Instance
    from lm_eval_mdlm.model import MDLM

    lm = MDLM(pretrained=sys.argv[1], device="cpu", k=2)
    assert lm.world_size == 2 and lm.accelerator is not None
    docs = ["a b", "c d e", "fox", "dog cat", "x y"]
    mine = [Instance("generate_until", {}, (f"Copy: {d}\\nAnswer:", {"until": ["\\n\\n"], "max_gen_toks": 8}),
                     0, metadata=("old", i, 1)) for i, d in enumerate(docs) if i % lm.world_size == lm.rank]
    sizes = lm.accelerator.gather(torch.tensor(len(mine), device=lm.device)).tolist()
    cloned = mine + [mine[-1]] * (max(sizes) - sizes[lm.rank])
    for answer, req in zip(lm.generate_until(cloned, disable_tqdm=True), cloned):
        req.resps.append(answer)
    lm.accelerator.wait_for_everyone()
    rows = [(r.doc_id, [str(x) for x in r.resps]) for r in mine]
    full = [None] * lm.world_size if lm.rank == 0 else None
    torch.distributed.gather_object(obj=rows, object_gather_list=full, dst=0)
    if lm.rank == 0:
        info = lm.get_model_info()["mdlm"]["decoding_traces"]["old"]
        json.dump({"sizes": sizes, "rows": sorted(r for part in full for r in part), "samples": info["samples"],
                   "traces": sorted((t["doc_id"], t["finalization_steps"]) for t in lm.traces)},
                  open(sys.argv[2], "w"))
    """)


def test_old_evaluator_contract_through_accelerator(tiny_bert: str, tmp_path: Path) -> None:
    script = tmp_path / "old_contract.py"
    script.write_text(OLD_CONTRACT)
    run(launch(str(script), tiny_bert, str(tmp_path / "old.json")))
    got = json.loads((tmp_path / "old.json").read_text())
    from lm_eval_mdlm.model import MDLM

    lm = MDLM(pretrained=tiny_bert, device="cpu", k=2)
    docs = ["a b", "c d e", "fox", "dog cat", "x y"]
    alone = lm.generate_until([Instance("generate_until", {}, (f"Copy: {d}\nAnswer:", {"until": ["\n\n"],
                                        "max_gen_toks": 8}), 0, metadata=("old", i, 1)) for i, d in enumerate(docs)],
                              disable_tqdm=True)
    assert got["sizes"] == [3, 2]
    assert got["rows"] == [[i, [str(a)]] for i, a in enumerate(alone)]  # padding answer trimmed
    assert got["samples"] == 5  # rank 0 saw every rank's traces, none for the padding copy
    assert got["traces"] == sorted([i, a.trace["finalization_steps"]] for i, a in enumerate(alone))


class _Req:
    def __init__(self, repeats: int = 1) -> None:
        self.repeats, self.resps = repeats, []


def test_padding_copies_are_found_answered_once_and_trimmed() -> None:
    dist = Distributed.__new__(Distributed)
    dist.rank, dist.world_size, dist.accelerator, dist._padded = 0, 2, None, []
    a, b = _Req(), _Req(repeats=2)
    requests = [a, b, b, b, b]  # b's two repeats, then one padding "pseudo-batch" of b (two copies)
    source = dist.split_padding(requests)
    assert source == [None, None, None, 1, 1]
    calls = []
    out = answer_real_requests(requests, source,
                               lambda real: calls.append(len(real)) or [f"x{i}" for i in range(len(real))])
    assert calls == [3] and out == ["x0", "x1", "x2", "x1", "x1"]
    for answer, req in zip(out, requests):
        req.resps.append(answer)
    dist.trim_padding()
    assert a.resps == ["x0"] and b.resps == ["x1", "x2"]
    single = Distributed.__new__(Distributed)
    single.rank, single.world_size, single.accelerator, single._padded = 0, 1, None, []
    assert single.split_padding([a, a]) == [None, None]  # a single process is never padded


def test_model_parallel_kwargs_only_when_asked() -> None:
    from lm_eval_mdlm.distributed import model_parallel_kwargs

    assert model_parallel_kwargs(False, None, None, None, "./offload") == {}
    kwargs = model_parallel_kwargs(True, None, None, "8GB", "./offload")
    assert kwargs["device_map"] == "auto" and kwargs["offload_folder"] == "./offload"
    assert model_parallel_kwargs(False, "balanced", None, None, None)["device_map"] == "balanced"
