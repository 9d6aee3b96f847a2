"""Every suite benchmark on rows shaped like its real data, through its real task YAML.

The fixtures (``tests/fixtures/suite/<domain>.json``) hold, per benchmark, a few rows with the field
names, types and answer formats of the real dataset (its card, lm-eval's task files or the official
release) and two responses written as a model would: ``right`` (the gold answer, marked as the prompt
asks) must score 1 and ``wrong`` 0. Each row goes through what ``lm_eval`` runs: the task's loader where
it has one (on files laid out as the release's), its ``process_docs``, its ``strict`` filter and its
``process_results``, all resolved from the YAML. Benchmarks whose data is generated, or released as
files rather than a hub table, are read by their loader from files written here.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import datasets
import pytest

from lm_eval_mdlm.tasks.suite import loaders
from lm_eval_mdlm.tasks.suite.catalog import BENCHMARKS, Benchmark
from lm_eval_mdlm.tasks.suite.task import resolve_config

FIXTURES: dict[str, dict[str, Any]] = {
    name: spec for path in sorted((Path(__file__).parent / "fixtures" / "suite").glob("*.json"))
    for name, spec in json.loads(path.read_text(encoding="utf-8")).items()}


def test_every_benchmark_has_a_fixture() -> None:
    assert set(FIXTURES) == {b.name for b in BENCHMARKS}


@pytest.fixture(scope="module")
def manager() -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager()


def task_config(manager: Any, name: str) -> dict[str, Any]:
    """The benchmark's YAML as lm-eval loads it (functions resolved), merged with its lm-eval base."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return resolve_config(load_yaml(manager.task_index[f"mdlm_suite_{name}"].yaml_path, resolve_func=True))


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def raw_data(bench: Benchmark, spec: dict[str, Any], cfg: dict[str, Any], tmp: Path,
             monkeypatch: pytest.MonkeyPatch) -> datasets.Dataset:
    """The test split as lm-eval gets it: the task's loader on release-shaped files, or the hub rows."""
    kwargs = dict(cfg.get("dataset_kwargs") or {})
    name = bench.name
    if name == "logiqa2":
        _write_jsonl(tmp / "test.txt", [{**r, "type": json.loads(r["type"])} for r in spec["rows"]])
        return cfg["custom_dataset"](**kwargs, logiqa2_dir=str(tmp))["test"]
    if name == "korbench":
        for row in spec["rows"]:
            _write_jsonl(tmp / row["category"] / "rule.jsonl",
                         [{"idx": row["rule_id"], "rule_content": row["rule_content"]}])
            _write_jsonl(tmp / row["category"] / "sample.jsonl",
                         [{"idx": row["idx"], "rule_id": row["rule_id"], "question": row["question"],
                           "answer": row["answer"]}])
        return cfg["custom_dataset"](**kwargs, korbench_dir=str(tmp), categories=["cipher"])["test"]
    if name.startswith("bfcl_") or name == "livecodebench":
        files = {"livecodebench": {"test.jsonl": [spec.get("raw")]}}.get(name) or {
            f"BFCL_v3_{kwargs['category']}.json": [spec["raw"]["question"]],
            f"possible_answer/BFCL_v3_{kwargs['category']}.json": [spec["raw"]["answer"]]}
        local = {f: _write_jsonl(tmp / f, rows) for f, rows in files.items()}
        monkeypatch.setattr(loaders, "_hub_file", lambda repo, filename: local[filename])
        return cfg["custom_dataset"](**kwargs)["test"]
    if name == "spider":
        (tmp / "concert_singer").mkdir()
        with sqlite3.connect(tmp / "concert_singer" / "concert_singer.sqlite") as db:
            db.executescript(spec["db"])
        monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: datasets.Dataset.from_list(spec["rows"]))
        return cfg["custom_dataset"](**kwargs, spider_db_dir=str(tmp))["test"]
    if name in ("sudoku", "countdown"):
        return cfg["custom_dataset"](**{**kwargs, "num_samples": 2})["test"]
    data = datasets.Dataset.from_list(spec["rows"])
    if "class_names" in spec:  # a ClassLabel column, as the hub's parquet has
        data = data.cast_column("label", datasets.ClassLabel(names=spec["class_names"]))
    return data


def score(cfg: dict[str, Any], doc: dict[str, Any], response: str) -> float:
    """``response`` through the task's ``strict`` filter and ``process_results``."""
    (strict,) = cfg["filter_list"]
    (value,) = strict["filter"][0]["filter_fn"]([[response]], [doc])[0]
    return cfg["process_results"](doc, [value])["score"]


def responses(bench: Benchmark, spec: dict[str, Any], doc: dict[str, Any]) -> tuple[str, str]:
    """(right, wrong) for the first row; generated benchmarks and GPQA's shuffled options read the doc."""
    if bench.name == "sudoku":
        return "Answer: " + doc["solution"], "Answer: " + "1" * 81
    if bench.name == "countdown":
        return "Answer: " + doc["expression"], f"Answer: {doc['target']} + 1"
    if bench.name == "gpqa_diamond":
        right = "ABCD"[doc["choices"].index("Photon")]
        return f"The answer is ({right}).", f"The answer is ({'B' if right == 'A' else 'A'})."
    return spec["right"], spec["wrong"]


@pytest.mark.parametrize("bench", BENCHMARKS, ids=lambda b: b.name)
def test_real_rows_score_right_and_wrong(manager: Any, bench: Benchmark, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    spec = FIXTURES[bench.name]
    if spec.get("needs") and shutil.which(spec["needs"]) is None:
        pytest.skip(f"needs {spec['needs']}")
    monkeypatch.setenv("MDLM_NLTK_DATA", str(tmp_path / "nltk_data"))
    cfg = task_config(manager, bench.name)
    docs = cfg["process_docs"](raw_data(bench, spec, cfg, tmp_path, monkeypatch))
    assert len(docs) == spec.get("kept", len(spec["rows"]))
    doc = docs[0]
    assert doc["mdlm_prompt"].strip() and doc["mdlm_target"].strip()
    right, wrong = responses(bench, spec, doc)
    assert score(cfg, doc, right) == 1.0, (right, doc["mdlm_answers"])
    assert score(cfg, doc, wrong) == 0.0, (wrong, doc["mdlm_answers"])
    if bench.extractor != "response":  # whole-response judges (IFEval) may accept any text
        assert score(cfg, doc, "I am not sure.") == 0.0
    for response, want in spec.get("more", []):
        assert score(cfg, doc, response) == want, response
    if "second" in spec:
        good, bad = spec["second"]
        assert (score(cfg, docs[1], good), score(cfg, docs[1], bad)) == (1.0, 0.0)
