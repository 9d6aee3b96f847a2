"""Data loaders (``custom_dataset``) of suite tasks that are not one hub config and split.

Why: several benchmarks are published as many configs (CMMLU's 67 subjects, BBH's 27 tasks) or as
raw files (BFCL, LiveCodeBench), and Sudoku/Countdown are generated here so they run offline. lm-eval
calls a loader with ``**metadata, **dataset_kwargs``; every loader returns ``{"test": Dataset}`` and
raises :class:`~lm_eval_mdlm.tasks.suite.task.SuiteDataError` naming the dataset when it cannot load.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import random
import sqlite3
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets

from lm_eval_mdlm.tasks.suite.korbench import load as korbench  # noqa: F401 - named by the task YAML
from lm_eval_mdlm.tasks.suite.task import SuiteDataError


def _hub(what: str, load: Callable[[], Any]) -> Any:
    try:
        return load()
    except Exception as exc:  # noqa: BLE001 - offline, gated, renamed: one message naming the dataset
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SuiteDataError(f"could not load Hugging Face hub dataset {what}: {type(exc).__name__}: {cause}. The "
                             "task needs the hub (or a local cache with HF_DATASETS_OFFLINE=1).") from exc


def concat_hub(hub_path: str | list[str], hub_split: str | list[str], hub_configs: list[str] | None = None,
               **_: Any) -> dict[str, datasets.Dataset]:
    """One test split from several hub datasets, configs or splits, with a ``subset`` column naming each."""
    parts = []
    for path in [hub_path] if isinstance(hub_path, str) else hub_path:
        for config in hub_configs or [None]:
            for split in [hub_split] if isinstance(hub_split, str) else hub_split:
                what = f"'{path}'" + (f" (config '{config}', split '{split}')" if config else f" (split '{split}')")
                part = _hub(what, lambda: datasets.load_dataset(path, config, split=split))
                name = "/".join(x for x in (path, config, split) if x)
                parts.append(part.add_column("subset", [name] * len(part)))
    return {"test": datasets.concatenate_datasets(parts)}


def lm_eval_subsets(folder: str, prefix: str) -> list[str]:
    """The ``dataset_name`` of each lm-eval YAML ``<folder>/<prefix>*.yaml`` (CMMLU, C-Eval, BBH subjects)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    from lm_eval_mdlm.tasks.suite.task import lm_eval_tasks_dir

    names = {load_yaml(p, resolve_func=False).get("dataset_name")
             for p in (lm_eval_tasks_dir() / folder).glob(f"{prefix}*.yaml")}
    return sorted(n for n in names if n)


def concat_lm_eval_subsets(hub_path: str, hub_split: str, lm_eval_folder: str, lm_eval_prefix: str,
                           **_: Any) -> dict[str, datasets.Dataset]:
    """All subjects lm-eval lists for a benchmark, concatenated into one task."""
    return concat_hub(hub_path, hub_split, lm_eval_subsets(lm_eval_folder, lm_eval_prefix))


def cmmlu(hub_path: str, hub_split: str, **_: Any) -> dict[str, datasets.Dataset]:
    """CMMLU's 67 subjects (lm-eval's list). The hub repo has shipped a loading script, which ``datasets`` >= 4
    refuses; then the release zip in the same repo (``<split>/<subject>.csv``) is read instead."""
    subjects = lm_eval_subsets("cmmlu", "cmmlu_")
    try:
        return concat_hub(hub_path, hub_split, subjects)
    except SuiteDataError as exc:
        if "script" not in str(exc).lower():
            raise
    from huggingface_hub import list_repo_files

    zips = [f for f in _hub(f"'{hub_path}' (file list)", lambda: list_repo_files(hub_path, repo_type="dataset"))
            if f.endswith(".zip")]
    if not zips:
        raise SuiteDataError(f"cmmlu: '{hub_path}' has a loading script and no release zip to read instead.")
    return {"test": read_cmmlu_zip(_hub_file(hub_path, zips[0]), hub_split, subjects)}


def read_cmmlu_zip(path: str, split: str, subjects: list[str]) -> datasets.Dataset:
    """The CMMLU release zip: ``[<dir>/]<split>/<subject>.csv`` with columns ``,Question,A,B,C,D,Answer``."""
    import csv
    import io
    import zipfile

    rows = []
    with zipfile.ZipFile(path) as archive:
        files = {Path(n).parent.name + "/" + Path(n).stem: n for n in archive.namelist() if n.endswith(".csv")}
        for subject in subjects:
            name = files.get(f"{split}/{subject}")
            if name is None:
                raise SuiteDataError(f"cmmlu: the release zip {path} has no {split}/{subject}.csv.")
            with archive.open(name) as f:
                for row in csv.DictReader(io.TextIOWrapper(f, encoding="utf-8")):
                    rows.append({"Question": row["Question"], **{k: row[k] for k in "ABCD"},
                                 "Answer": row["Answer"], "subset": subject})
    return datasets.Dataset.from_list(rows)


LOGIQA2_URL = "https://raw.githubusercontent.com/csitfun/LogiQA2.0/main/logiqa/DATA/LOGIQA/{split}.txt"


def logiqa2(split: str = "test", logiqa2_dir: str | None = None, **_: Any) -> dict[str, datasets.Dataset]:
    """LogiQA 2.0 from the official release's ``logiqa/DATA/LOGIQA/<split>.txt`` (one JSON object a line:
    id, answer (index), text, question, options, type), read from ``logiqa2_dir`` (or ``$LOGIQA2_DIR``)
    or downloaded from the release. lm-eval's ``baber/logiqa2`` is a loading script ``datasets`` >= 4 refuses."""
    from datasets.utils.file_utils import cached_path

    root = logiqa2_dir or os.environ.get("LOGIQA2_DIR")
    source = str(Path(root) / f"{split}.txt") if root else LOGIQA2_URL.format(split=split)
    path = _hub(f"LogiQA 2.0 release file {source}", lambda: cached_path(source))
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            doc = json.loads(line)
            rows.append({"id": doc["id"], "answer": int(doc["answer"]), "text": doc["text"],
                         "question": doc["question"], "options": list(doc["options"]),
                         "type": json.dumps(doc.get("type") or {})})
    return {"test": datasets.Dataset.from_list(rows)}


# ---- generated puzzles -----------------------------------------------------------------------------
def _sudoku(rng: random.Random, holes: int) -> tuple[str, str]:
    """A random valid grid (permuted digits, rows within bands, bands, columns, stacks) with holes."""
    base = [[(3 * (r % 3) + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)]
    digits = rng.sample(range(1, 10), 9)
    rows = [b * 3 + r for b in rng.sample(range(3), 3) for r in rng.sample(range(3), 3)]
    cols = [s * 3 + c for s in rng.sample(range(3), 3) for c in rng.sample(range(3), 3)]
    grid = [[digits[base[r][c] - 1] for c in cols] for r in rows]
    solution = "".join(str(v) for row in grid for v in row)
    empty = set(rng.sample(range(81), holes))
    return "".join("0" if i in empty else ch for i, ch in enumerate(solution)), solution


def sudoku(num_samples: int = 200, seed: int = 0, holes: int = 40, **_: Any) -> dict[str, datasets.Dataset]:
    """Generated 9x9 Sudoku (offline, seeded); scoring accepts any valid completion of the givens."""
    rng = random.Random(seed)
    rows = [dict(zip(("puzzle", "solution"), _sudoku(rng, holes))) for _ in range(num_samples)]
    return {"test": datasets.Dataset.from_list(rows)}


def countdown(num_samples: int = 200, seed: int = 0, **_: Any) -> dict[str, datasets.Dataset]:
    """Generated Countdown (offline, seeded): 3-4 numbers, a reachable positive integer target."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    while len(rows) < num_samples:
        numbers = [rng.randint(1, 99) for _ in range(rng.choice((3, 4)))]
        expression, value = str(numbers[0]), numbers[0]
        for n in numbers[1:]:
            op = rng.choice("+-*/")
            if op == "/" and (n == 0 or value % n):
                op = "+"
            value = {"+": value + n, "-": value - n, "*": value * n, "/": value // n}[op]
            expression = f"({expression} {op} {n})"
        if 0 < value < 1000:
            rows.append({"numbers": rng.sample(numbers, len(numbers)), "target": value, "expression": expression})
    return {"test": datasets.Dataset.from_list(rows)}


# ---- raw-file benchmarks ---------------------------------------------------------------------------
def _hub_file(repo: str, filename: str) -> str:
    from huggingface_hub import hf_hub_download

    return _hub(f"'{repo}' (file {filename})",
                lambda: hf_hub_download(repo_id=repo, filename=filename, repo_type="dataset"))


def _jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def bfcl(hub_path: str, category: str, **_: Any) -> dict[str, datasets.Dataset]:
    """BFCL v3 category ``category``: questions and their possible answers, joined by id."""
    questions = _jsonl(_hub_file(hub_path, f"BFCL_v3_{category}.json"))
    answer_file = _hub_file(hub_path, f"possible_answer/BFCL_v3_{category}.json")
    answers = {a["id"]: a["ground_truth"] for a in _jsonl(answer_file)}
    rows = [{"id": q["id"], "question": json.dumps(q["question"]), "functions": json.dumps(q["function"], indent=1),
             "ground_truth": json.dumps(answers[q["id"]])} for q in questions if q["id"] in answers]
    return {"test": datasets.Dataset.from_list(rows)}


def _lcb_tests(row: dict[str, Any]) -> list[dict[str, str]]:
    private = row.get("private_test_cases") or "[]"
    try:
        private = json.loads(private)
    except json.JSONDecodeError:  # the release stores private tests as base64(zlib(pickle(json)))
        private = json.loads(pickle.loads(zlib.decompress(base64.b64decode(private))))  # noqa: S301
    return json.loads(row["public_test_cases"]) + list(private)


def livecodebench(hub_path: str, files: list[str], **_: Any) -> dict[str, datasets.Dataset]:
    """LiveCodeBench code generation (lite): the stdin/stdout problems of the release files ``files``."""
    rows = []
    for name in files:
        for row in _jsonl(_hub_file(hub_path, name)):
            tests = _lcb_tests(row)
            if tests and all(t.get("testtype") == "stdin" for t in tests):
                rows.append({"question_id": row["question_id"], "question_content": row["question_content"],
                             "tests": json.dumps([{"input": t["input"], "output": t["output"]} for t in tests])})
    return {"test": datasets.Dataset.from_list(rows)}


def spider(hub_path: str, hub_split: str, spider_db_dir: str | None = None, **_: Any) -> dict[str, datasets.Dataset]:
    """Spider with each question's SQLite schema; the databases are not on the hub, so they come from
    ``--metadata '{"spider_db_dir": ...}'`` or ``$SPIDER_DB_DIR`` (the release's ``database/`` folder)."""
    root = spider_db_dir or os.environ.get("SPIDER_DB_DIR")
    if not root or not Path(root).is_dir():
        raise SuiteDataError("mdlm_suite_spider needs the Spider databases (execution accuracy): set "
                             "--metadata '{\"spider_db_dir\": \"<spider>/database\"}' or $SPIDER_DB_DIR to the "
                             "release's database/ folder (one <db_id>/<db_id>.sqlite per database).")
    rows = _hub(f"'{hub_path}' (split '{hub_split}')", lambda: datasets.load_dataset(hub_path, split=hub_split))
    schemas: dict[str, str] = {}

    def attach(doc: dict[str, Any]) -> dict[str, str]:
        path = str(Path(root) / doc["db_id"] / f"{doc['db_id']}.sqlite")
        if doc["db_id"] not in schemas:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
                schemas[doc["db_id"]] = "\n".join(r[0] for r in db.execute(
                    "SELECT sql FROM sqlite_master WHERE type='table' AND sql IS NOT NULL"))
        return {"db_path": path, "schema": schemas[doc["db_id"]]}

    return {"test": rows.map(attach)}
