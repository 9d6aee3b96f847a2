"""The official October 2025 data in ../shared/parallelbench_reference: prompts, loading, scoring.

Scoring every reference answer must give 100 %, except Sort, whose official labels are sorted by
the whole name while the prompt asks for the last name (documented in docs/parallelbench.md).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from lm_eval_mdlm.metrics import lists, text
from lm_eval_mdlm.tasks import records, sources
from lm_eval_mdlm.tasks.scoring import score_answer
from lm_eval_mdlm.tasks.specs import OFFICIAL_TASKS, SPECS

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "parallelbench_reference"
pytestmark = pytest.mark.skipif(not REFERENCE.is_dir(),
                                reason=f"official reference data not found at {REFERENCE} (shared/ beside the repo)")
ANSWER_SCORED = ("exact", "shuffle", "insert_random", "remove_random", "replace_random", "latin_square", "sudoku")


def _rows(spec):
    with (REFERENCE / spec.local_file).open() as f:
        return [json.loads(line) for line in f]


def _official_config(spec):
    folder, name = spec.local_file.removesuffix(".jsonl").split("/")
    with (REFERENCE / folder / "task_config.yaml").open() as f:
        return yaml.safe_load(f)[f"{folder}/{name}"]


def test_seventeen_official_tasks():
    assert len(OFFICIAL_TASKS) == 17


@pytest.mark.parametrize("task_id", OFFICIAL_TASKS)
def test_prompts_and_shots_are_the_official_ones(task_id):
    spec = SPECS[task_id]
    config = _official_config(spec)
    assert spec.prompt == config["prompt"]
    assert spec.shots == (config.get("icl_example_count") or 0)
    docs, where = sources.load_official(spec, {"parallelbench_data_dir": str(REFERENCE)})
    rows = _rows(spec)
    assert len(docs) == len(rows) == (108 if task_id == "puzzles/sudoku_n4" else 100)
    assert str(REFERENCE) in where
    for doc, row in zip(docs, rows):
        fields = {k: v for k, v in row["input"].items() if k != "icl_examples"}
        assert doc["prompt"] == config["prompt"].format(**fields).replace("\\n", "\n")
        for shot, example in zip(doc["shots"], row["input"].get("icl_examples") or []):
            assert shot["prompt"] == config["prompt"].format(**example["input"]).replace("\\n", "\n")


def _answer(answer):
    return answer if isinstance(answer, str) else answer["example"]


@pytest.mark.parametrize("scoring", ["official", "corrected"])
@pytest.mark.parametrize("task_id", [t for t in OFFICIAL_TASKS if SPECS[t].scorer in ANSWER_SCORED])
def test_reference_answers_score_100_percent(task_id, scoring):
    spec = SPECS[task_id]
    docs, _ = sources.load_official(spec, {"parallelbench_data_dir": str(REFERENCE), "scoring": scoring})
    rows = _rows(spec)
    scores = [score_answer(spec.scorer, _answer(row["answer"]), json.loads(doc["reference"]), scoring=scoring)
              for doc, row in zip(docs, rows)]
    assert sum(s["score"] for s in scores) == len(rows)
    assert sum(s["score_strict"] for s in scores) == len(rows)  # the labels are in the exact official format
    # the one-shot examples' answers are valid too
    zero_shot = dataclasses.replace(spec, shots=0)
    for row in rows:
        for example in row["input"]["icl_examples"]:
            doc = records.record_to_doc(zero_shot, example, 0)
            reference = json.loads(doc["reference"])
            assert score_answer(spec.scorer, _answer(example["answer"]), reference, scoring=scoring)["score"] == 1.0


def test_corrected_sort_is_scored_by_last_name_not_by_the_official_labels():
    spec = SPECS["waiting_line/sort"]
    docs, _ = sources.load_official(spec, {"parallelbench_data_dir": str(REFERENCE), "scoring": "corrected"})
    rows = _rows(spec)
    # The first sample (paper Table 3): the official label is sorted by first name.
    first = json.loads(docs[0]["reference"])["items"]
    assert first == ["David Lewis", "Patrick Tran", "Sean Diaz"]
    assert rows[0]["answer"] == '["David Lewis", "Patrick Tran", "Sean Diaz"]'
    assert score_answer("sort", rows[0]["answer"], {"items": first}, scoring="corrected")["score"] == 0.0
    assert docs[0]["target"] == '["Sean Diaz", "David Lewis", "Patrick Tran"]'
    assert score_answer("sort", docs[0]["target"], {"items": first}, scoring="corrected")["score"] == 1.0
    # Every official label is the whole-name order, so it scores only where that equals last-name order.
    official = [score_answer("sort", row["answer"], json.loads(doc["reference"]), scoring="corrected")["score"]
                for doc, row in zip(docs, rows)]
    for row, value in zip(rows, official):
        items = lists.parse_list(row["input"]["context"])
        assert lists.parse_list(row["answer"]) == sorted(items)
        assert value == float(sorted(items) == lists.sort_by_last_name(sorted(items)))
    assert sum(official) < 50
    # Our targets and one-shot answers follow the prompt.
    assert all(score_answer("sort", d["target"], json.loads(d["reference"]), scoring="corrected")["score"] == 1.0
               for d in docs)
    for doc in docs:
        shot_items = lists.parse_list(doc["shots"][0]["prompt"])
        assert lists.parse_list(doc["shots"][0]["target"]) == lists.sort_by_last_name(shot_items)


def test_official_sort_uses_the_official_labels_for_targets_shots_and_scores():
    spec = SPECS["waiting_line/sort"]
    docs, _ = sources.load_official(spec, {"parallelbench_data_dir": str(REFERENCE)})
    rows = _rows(spec)
    assert [doc["target"] for doc in docs] == [row["answer"] for row in rows]
    assert [doc["shots"][0]["target"] for doc in docs] == [row["input"]["icl_examples"][0]["answer"] for row in rows]
    for doc, row in zip(docs, rows):
        reference = json.loads(doc["reference"])
        assert score_answer("sort", row["answer"], reference) == {"score": 1.0, "score_strict": 1.0}
        by_last_name = lists.format_list(lists.sort_by_last_name(reference["items"]))
        assert score_answer("sort", by_last_name, reference)["score"] == float(by_last_name == row["answer"])


def test_text_writing_references():
    pytest.importorskip("rouge_score", reason="rouge-score is an optional dependency")
    pytest.importorskip("sacrebleu", reason="sacrebleu is an optional dependency")
    data = {"parallelbench_data_dir": str(REFERENCE)}
    summaries, _ = sources.load_official(SPECS["text_writing/summarization"], data)
    assert all(text.rouge_l(d["target"], json.loads(d["reference"])["summary"]) == pytest.approx(1.0)
               for d in summaries)
    paraphrases, _ = sources.load_official(SPECS["text_writing/paraphrasing"], data)
    for doc in paraphrases:
        source = json.loads(doc["reference"])["source"]
        assert text.inverse_bleu(source, source) == pytest.approx(0.0)  # copying the source is penalized
        assert doc["target"] != source and 0.0 < text.inverse_bleu(doc["target"], source) <= 1.0
    for level in ("easy", "medium", "hard"):
        docs, _ = sources.load_official(SPECS[f"text_writing/words_to_sentence_{level}"], data)
        words = [json.loads(d["reference"])["words"] for d in docs]
        assert all(len(w) == 4 for w in words)
        examples = [(d["target"], w) for d, w in zip(docs, words) if d["target"]]
        assert examples and all(text.words_included(t, w) == 1.0 for t, w in examples)


def _hub_row(row, spec):
    """A reference row in the hub's schema: JSON-encoded columns plus prompt/metric columns."""
    return {"input": json.dumps(row["input"]), "answer": json.dumps(row["answer"]),
            "metadata": json.dumps(row.get("metadata", {})), "prompt": spec.prompt, "metric": "x",
            "output_format": row.get("output_format")}


def test_hub_schema_loads_like_the_release(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        spec = next(s for s in SPECS.values() if s.hub_config == name)
        return datasets.Dataset.from_list([_hub_row(r, spec) for r in _rows(spec)[:5]])

    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    for task_id in ("waiting_line/insert_random", "text_writing/paraphrasing", "puzzles/sudoku_n4"):
        spec = SPECS[task_id]
        hub_docs, where = sources.load_official(spec, {})
        local_docs, _ = sources.load_official(spec, {"parallelbench_data_dir": str(REFERENCE)})
        assert hub_docs == local_docs[:5]
        assert "furiosa-ai/ParallelBench" in where
    assert calls[0] == ("furiosa-ai/ParallelBench", "waiting_line-insert_random", "test")
