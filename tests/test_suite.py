"""The MDLM suite: strict extractors, the 58 task YAMLs through lm-eval's TaskManager (offline), scorers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lm_eval_mdlm.tasks.suite import adapters, adapters_open, catalog, extract, filters, loaders, scoring
from lm_eval_mdlm.tasks.suite.catalog import BENCHMARKS, Benchmark
from lm_eval_mdlm.tasks.suite.task import SuiteDataError, SuiteTask, resolve_config


@pytest.mark.parametrize(("text", "want"), [
    ("She has 3 + 4 = 7 apples.\n#### 1,234", "1234"),
    ("So 12 then 30. The answer is $42.", "42"),
    ("Answer: -3.50", "-3.5"),
    ("The answer is 5. Wait, the answer is 6", "6"),  # the last marked answer counts
    ("I think 42 is right", None),  # an unmarked number is not an answer
])
def test_final_number(text: str, want: str | None) -> None:
    assert extract.final_number(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("(A) is wrong because ... The answer is (C).", "C"),
    ("Answer: b", "B"),
    ("A seems plausible, B too.", None),
    ("The answer is Apple", None),  # a word starting with a letter is not a choice
])
def test_choice_letter(text: str, want: str | None) -> None:
    assert extract.choice_letter(text) == want


@pytest.mark.parametrize(("text", "want"), [
    ("so \\boxed{\\frac{1}{2}} and finally \\boxed{\\sqrt{3}}", "\\sqrt{3}"),
    ("\\boxed{x^{2}+1}", "x^{2}+1"),
    ("\\boxed{unclosed", None),
    ("the answer is 4", None),
])
def test_boxed(text: str, want: str | None) -> None:
    assert extract.boxed(text) == want


def test_boolean_code_sudoku_countdown() -> None:
    assert extract.boolean("Every cat is a mammal. The answer is yes.") == "True"
    assert extract.boolean("Answer: False") == "False" and extract.boolean("true") is None
    assert extract.code_block("Here:\n```python\ndef f():\n    return 1\n```\nDone") == "def f():\n    return 1\n"
    assert extract.code_block("def f(): return 1") is None
    grid = "".join(str((i % 9) + 1) for i in range(81))
    assert extract.sudoku_grid("Answer:\n" + "\n".join(" ".join(grid[r * 9:r * 9 + 9]) for r in range(9))) == grid
    assert extract.sudoku_grid("Answer: 123") is None
    assert extract.countdown_expression("Try 3*4. Answer: (25 - 5) * 3 = 60") == "(25 - 5) * 3"
    assert extract.countdown_correct("(25 - 5) * 3", [25, 5, 3, 7], 60)
    assert not extract.countdown_correct("25 * 3 - 5 - 5 - 5", [25, 5, 3], 60)  # 5 used three times
    assert not extract.countdown_correct("__import__('os')", [1], 1)


def test_as_filter_marks_missing_answers_so_they_never_match() -> None:
    apply = extract.as_filter("final_number")
    assert apply([["#### 7", "no answer"]], [{}]) == [["7", extract.MISSING]]
    with pytest.raises(ValueError, match="extractor 'loose' is unknown; valid extractors: final_number"):
        extract.as_filter("loose")


# ---- the suite: extractors added for it ---------------------------------------------------------------
@pytest.mark.parametrize(("text", "want"), [
    ("Paris is big. The answer is **Paris**.", "Paris"),
    ("Answer: \"[1, 2]\"\nmore text", "[1, 2]"),
    ("The answer is 3.5.", "3.5"),
    ("The answer is", None),
    ("Paris", None),
])
def test_marked_text(text: str, want: str | None) -> None:
    assert extract.marked_text(text) == want


def test_function_calls_and_response() -> None:
    got = extract.function_calls("Sure.\n```python\n[get_weather(city='Paris', days=2), now()]\n```")
    assert json.loads(got) == [{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}},
                               {"name": "now", "arguments": {}}]
    calls = json.loads(extract.function_calls("Answer: math.add(a=1, b=2)"))
    assert calls == [{"name": "math.add", "arguments": {"a": 1, "b": 2}}]
    assert extract.function_calls("call get_weather for Paris") is None
    assert extract.function_calls("Answer: f(1)") is None  # positional arguments cannot be checked by name
    assert extract.function_calls("Answer: __import__('os').system(x=1)") is not None  # parsed, never executed
    assert extract.response("  hi \n") == "hi" and extract.response("  ") is None
    assert extract.code_block("```cpp\nint f() { return 1; }\n```") == "int f() { return 1; }\n"


# ---- the suite: catalog, YAMLs, lm-eval's index -------------------------------------------------------
TESTED_EXTRACTORS = {"final_number", "choice_letter", "boolean", "boxed", "code_block", "sudoku_grid",
                     "countdown_expression", "marked_text", "marked_literal", "function_calls", "response"}


@pytest.fixture(scope="module")
def manager() -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager()  # our hook adds task_yamls/, so no include_path


def test_suite_has_58_benchmarks_in_six_domains() -> None:
    assert len(BENCHMARKS) == 58 and len({b.task for b in BENCHMARKS}) == 58
    assert {b.domain for b in BENCHMARKS} == set(catalog.DOMAINS)
    assert all(b.task.startswith("mdlm_suite_") for b in BENCHMARKS)
    assert not {b.task for b in BENCHMARKS} & {f"mdlm_suite_{d}" for d in catalog.DOMAINS}  # no task shadows a group


def test_yaml_files_match_the_catalog() -> None:
    on_disk = {p.relative_to(catalog.ROOT).as_posix(): p.read_text(encoding="utf-8")
               for p in catalog.ROOT.rglob("*.yaml")}
    assert on_disk == catalog.render_all(), "run: python -m lm_eval_mdlm.tasks.suite.catalog --write"


def test_every_suite_name_is_indexed_by_lm_eval(manager: Any) -> None:
    from lm_eval.tasks._index import Kind

    index = manager.task_index
    for b in BENCHMARKS:
        assert index[b.task].kind is Kind.PY_TASK and Path(index[b.task].yaml_path).is_relative_to(catalog.ROOT)
    for group in ["mdlm_suite", *(f"mdlm_suite_{d}" for d in catalog.DOMAINS)]:
        assert index[group].kind is Kind.GROUP


def test_groups_hold_their_domain_and_the_suite_all_58(manager: Any) -> None:
    index = manager.task_index
    assert index["mdlm_suite"].cfg["task"] == [f"mdlm_suite_{d}" for d in catalog.DOMAINS]
    members = []
    for domain in catalog.DOMAINS:
        got = index[f"mdlm_suite_{domain}"].cfg["task"]
        assert got == [b.task for b in BENCHMARKS if b.domain == domain]
        members += got
    assert len(members) == len(set(members)) == 58


@pytest.mark.parametrize("bench", BENCHMARKS, ids=lambda b: b.name)
def test_task_config_resolves_offline(manager: Any, bench: Benchmark) -> None:
    """lm-eval's own YAML loader (functions resolved) + our base merge + lm-eval's TaskConfig: no data."""
    from lm_eval.config.task import TaskConfig
    from lm_eval.tasks._yaml_loader import load_yaml

    raw = load_yaml(manager.task_index[bench.task].yaml_path, resolve_func=True)
    assert raw["class"] is SuiteTask
    cfg = resolve_config(raw)
    config = TaskConfig(**cfg)  # unknown or ill-typed keys fail here
    assert config.task == bench.task and config.output_type == "generate_until" and config.num_fewshot == 0
    assert callable(config.process_docs) and callable(config.process_results)
    assert config.dataset_path or callable(config.custom_dataset)
    assert config.test_split and config.generation_kwargs["max_gen_toks"] == bench.gen
    (strict,) = config.filter_list
    assert strict["filter"][0]["filter_fn"] is getattr(filters, f"strict_{bench.extractor}")
    assert bench.extractor in extract.EXTRACTORS and bench.extractor in TESTED_EXTRACTORS
    assert bool(config.unsafe_code) == bench.unsafe
    assert "doc_to_choice" not in cfg and config.metric_list[0]["metric"] == "score"
    if bench.base:
        assert cfg["metadata"]["lm_eval_base"] == bench.base and cfg["dataset_path"]


def test_hub_failure_names_the_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SuiteDataError, match="'TAUR-Lab/MuSR' \\(split 'murder_mysteries'\\).*ConnectionError"):
        loaders.concat_hub("TAUR-Lab/MuSR", ["murder_mysteries"])
    with pytest.raises(SuiteDataError, match="spider_db_dir"):
        loaders.spider("xlangai/spider", "validation", spider_db_dir=None)


# ---- the suite: adapters and scorers on in-memory documents -------------------------------------------
def _one(adapter: Any, doc: dict[str, Any]) -> dict[str, Any]:
    import datasets

    return adapter(datasets.Dataset.from_list([doc]))[0]


def _score(scorer: Any, doc: dict[str, Any], extractor: str, response: str) -> float:
    (value,) = extract.as_filter(extractor)([[response]], [doc])[0]
    return scorer(doc, [value])["score"]


def test_multiple_choice_prompt_and_strict_letter() -> None:
    doc = _one(adapters.arc, {"question": "Sky colour?", "choices": {"text": ["red", "blue"], "label": ["1", "2"]},
                              "answerKey": "2"})
    assert "A. red\nB. blue" in doc["mdlm_prompt"] and "The answer is (X)" in doc["mdlm_prompt"]
    assert doc["mdlm_target"] == "B"
    assert _score(scoring.score_match, doc, "choice_letter", "Blue it is. The answer is (B).") == 1.0
    assert _score(scoring.score_match, doc, "choice_letter", "B") == 0.0  # unmarked


def test_numbers_math_and_text() -> None:
    gsm = _one(adapters_open.gsm8k, {"question": "2+2?", "answer": "2+2=4\n#### 4"})
    assert _score(scoring.score_match, gsm, "final_number", "The answer is 4.0") == 1.0
    math = _one(adapters_open.math_problem, {"problem": "Half?", "answer": "\\frac{1}{2}"})
    assert _score(scoring.score_math, math, "boxed", "so \\boxed{\\frac12}") == 1.0
    assert _score(scoring.score_math, math, "boxed", "1/2") == 0.0
    trivia = _one(adapters_open.triviaqa,
                  {"question": "Capital of France", "answer": {"value": "Paris", "aliases": ["Paris"]}})
    assert _score(scoring.score_match, trivia, "marked_text", "The answer is the Paris.") == 1.0


def test_generated_puzzles_are_solvable_and_scored_by_validity() -> None:
    sudoku = loaders.sudoku(num_samples=3, seed=1)["test"]
    doc = _one(adapters_open.sudoku, sudoku[0])
    assert scoring.sudoku_valid(sudoku[0]["solution"], sudoku[0]["puzzle"]) and sudoku[0]["puzzle"].count("0") == 40
    assert _score(scoring.score_sudoku, doc, "sudoku_grid", "Answer: " + sudoku[0]["solution"]) == 1.0
    assert _score(scoring.score_sudoku, doc, "sudoku_grid", "Answer: " + "1" * 81) == 0.0
    countdown = loaders.countdown(num_samples=5, seed=1)["test"]
    assert loaders.countdown(num_samples=5, seed=1)["test"].to_list() == countdown.to_list()  # seeded
    doc = _one(adapters_open.countdown, countdown[0])
    assert _score(scoring.score_countdown, doc, "countdown_expression", "Answer: " + countdown[0]["expression"]) == 1.0


def test_bfcl_matching() -> None:
    functions = [{"name": "f", "parameters": {"type": "dict", "required": ["a"], "properties": {
        "a": {"type": "float"}, "unit": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}}}},
        {"name": "g", "parameters": {"type": "dict", "required": ["x"], "properties": {"x": {"type": "string"}}}}]
    truth = [{"f": {"a": [1.0], "unit": ["", "cm"], "tags": ["", ["New York", "LA"]]}},
             {"g": {"x": ["San Francisco, CA"]}}]
    doc = {"mdlm_answers": json.dumps({"ground_truth": truth, "functions": functions})}

    def score(calls: str) -> float:
        return _score(scoring.score_bfcl, doc, "function_calls", f"```python\n{calls}\n```")

    assert score("[g(x='san francisco CA'), f(a=1)]") == 1.0  # any order; BFCL's string standardisation; int->float
    assert score("[f(a=1.0, tags=['new york', 'L.A.']), g(x='San Francisco, CA')]") == 1.0
    assert score("[f(a=2), g(x='San Francisco, CA')]") == 0.0  # wrong value
    assert score("[f(a=1, z=0), g(x='San Francisco, CA')]") == 0.0  # undocumented parameter
    assert score("[f(a='1'), g(x='San Francisco, CA')]") == 0.0  # wrong type
    assert score("[f(a=1)]") == 0.0  # a call missing
    assert score("[f(a=1), g(x='Oakland')]") == 0.0


def test_code_is_run_against_the_tests() -> None:
    doc = _one(adapters_open.humaneval, {"prompt": "import math\ndef f(x):\n    \"\"\"sqrt\"\"\"\n",
                                         "test": "def check(c):\n    assert c(4) == 2", "entry_point": "f"})
    program = "```python\ndef f(x):\n    return math.isqrt(x)\n```"
    assert _score(scoring.score_program, doc, "code_block", program) == 1.0
    assert _score(scoring.score_program, doc, "code_block", "```python\ndef f(x):\n    return x\n```") == 0.0
    crux = _one(adapters_open.cruxeval_output, {"code": "def f(a):\n    return a * 2", "input": "3", "output": "6"})
    assert _score(scoring.score_cruxeval, crux, "marked_literal", "The answer is 6.") == 1.0
    assert _score(scoring.score_cruxeval, crux, "marked_literal", "The answer is 7.") == 0.0


def test_offline_tasks_build_end_to_end_and_hub_tasks_fail_clearly(manager: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval builds our generated tasks with no network; a hub task's error names its dataset."""
    import datasets

    built = manager.load_task_or_group(["mdlm_suite_sudoku", "mdlm_suite_countdown"])
    sudoku = built["mdlm_suite_sudoku"]
    docs = list(sudoku.test_docs())
    assert len(docs) == 200 and "Solve this Sudoku" in sudoku.doc_to_text(docs[0])
    assert sudoku.process_results(docs[0], [docs[0]["solution"]]) == {"score": 1.0}

    def offline(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("hub unreachable")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(SuiteDataError,
                       match="mdlm_suite_gsm8k: could not load hub dataset 'openai/gsm8k' \\(config 'main'\\)"):
        manager.load_task_or_group(["mdlm_suite_gsm8k"])
