"""Official 15-name Waiting Line tasks (``parallelbench_waiting_line_n15_*``): the paper's dLLM-vs-LLM runs.

The data comes from the hub dataset or, with ``PARALLELBENCH_DATA_DIR`` / ``parallelbench_data_dir``,
from a local copy laid out as the official release (``waiting_line_n15/<op>.jsonl``). The fixture
folder here is written in that layout and schema from our generator (15 names per list), so the
tests need no network and no official data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_mdlm.tasks import sources
from lm_eval_mdlm.tasks.generate import generate
from lm_eval_mdlm.tasks.lm_task import ParallelBenchTask
from lm_eval_mdlm.tasks.specs import OFFICIAL_N15_TASKS, SPECS, WAITING_LINE_SCORERS

REPO = Path(__file__).resolve().parents[1]
GROUP = "parallelbench_waiting_line_n15"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """A folder laid out as the official release, holding waiting_line_n15/<op>.jsonl (4 records each)."""
    root = tmp_path_factory.mktemp("release")
    (root / "waiting_line_n15").mkdir()
    for op in WAITING_LINE_SCORERS:
        rows = generate(f"waiting_line/{op}", lengths=(15, 15), num_samples=4, seed=3)
        (root / "waiting_line_n15" / f"{op}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _manager(**metadata):
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False, include_path=str(REPO / "task_yamls"), metadata=metadata or None)


def test_ten_official_n15_tasks_share_the_waiting_line_prompts_and_scorers():
    assert len(OFFICIAL_N15_TASKS) == 10
    for task_id in OFFICIAL_N15_TASKS:
        op = task_id.split("/")[1]
        assert SPECS[task_id].prompt == SPECS[f"waiting_line/{op}"].prompt
        assert SPECS[task_id].scorer == WAITING_LINE_SCORERS[op] and SPECS[task_id].shots == 1
        assert SPECS[task_id].local_file == f"waiting_line_n15/{op}.jsonl"
        assert SPECS[task_id].hub_config == f"waiting_line_n15-{op}"


def test_group_loads_the_local_release_copy_with_128_answer_tokens(release):
    manager = _manager(parallelbench_data_dir=str(release))
    loaded = manager.load([GROUP])["tasks"]
    tasks = {name: task for name, task in loaded.items() if isinstance(task, ParallelBenchTask)}
    assert sorted(tasks) == sorted(f"parallelbench_waiting_line_n15_{op}" for op in WAITING_LINE_SCORERS)
    for name, task in tasks.items():
        op = name.removeprefix("parallelbench_waiting_line_n15_")
        assert task.config.generation_kwargs["max_gen_toks"] == 128
        assert task.config.generation_kwargs["until"] == ["\n\n"]
        assert str(release / "waiting_line_n15" / f"{op}.jsonl") in task.config.metadata["data_source"]
        docs = list(task.dataset["test"])
        assert len(docs) == 4
        for doc in docs:
            reference = json.loads(doc["reference"])
            assert len(reference.get("items") or reference["answer"]) in (14, 15, 16)
            assert task.process_results(doc, [doc["target"]])["score"] == 1.0


def test_environment_variable_names_the_missing_file(release, tmp_path, monkeypatch):
    partial = tmp_path / "partial"
    (partial / "waiting_line_n15").mkdir(parents=True)
    (partial / "waiting_line_n15" / "copy.jsonl").write_text((release / "waiting_line_n15" / "copy.jsonl").read_text())
    monkeypatch.setenv("PARALLELBENCH_DATA_DIR", str(partial))
    docs, where = sources.load_official(SPECS["waiting_line_n15/copy"])
    assert len(docs) == 4 and str(partial) in where
    with pytest.raises(sources.ParallelBenchDataError, match="has no waiting_line_n15/sort.jsonl \\(missing file "):
        sources.load_official(SPECS["waiting_line_n15/sort"])


def test_without_hub_or_copy_the_error_names_the_config_and_the_generated_variant(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.delenv("PARALLELBENCH_DATA_DIR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(sources.ParallelBenchDataError) as error:
        sources.load_official(SPECS["waiting_line_n15/shuffle"])
    assert "(config 'waiting_line_n15-shuffle', split 'test')" in str(error.value)
    assert "parallelbench_waiting_line_shuffle_gen_n15" in str(error.value)
