"""Official-data loading without the network: hub-schema fixtures, local copies, clear errors."""

from __future__ import annotations

import json

import pytest

from lm_eval_mdlm.tasks import sources
from lm_eval_mdlm.tasks.records import RecordError, record_to_doc
from lm_eval_mdlm.tasks.scoring import score_answer
from lm_eval_mdlm.tasks.specs import SPECS

# Hand-made rows in the hub's schema (JSON-encoded columns), one per shape of answer.
REPLACE_RANDOM = {
    "input": json.dumps({"context": '["David Owens", "Kelly Payne"]', "word": "Juan Torres",
                         "icl_examples": [{"input": {"context": '["Ann Clark", "Gary Lewis"]', "word": "Jo Campbell"},
                                           "answer": {"input": ["Ann Clark", "Gary Lewis"], "word": "Jo Campbell",
                                                      "example": '["Jo Campbell", "Gary Lewis"]'}}]}),
    "answer": json.dumps({"input": ["David Owens", "Kelly Payne"], "word": "Juan Torres",
                          "example": '["David Owens", "Juan Torres"]'}),
    "metadata": json.dumps({"length": 2}), "prompt": "ignored", "metric": "list_random_replace_score",
}
# The newer hub release writes Sudoku puzzles with "_" for empty cells.
SUDOKU = {
    "input": json.dumps({"puzzle": "_042\n2031\n4023\n3214",
                         "icl_examples": [{"input": {"puzzle": "1342\n4_03\n2104\n3420"},
                                           "answer": "1342\n4213\n2134\n3421"}]}),
    "answer": json.dumps("1342\n2431\n4123\n3214"), "metadata": json.dumps({}),
}
COPY = {"input": json.dumps({"context": '["A B", "C D"]', "icl_examples": [
    {"input": {"context": '["E F"]'}, "answer": '["E F"]'}]}), "answer": json.dumps('["A B", "C D"]'), "metadata": "{}"}


def test_hub_rows_become_documents():
    doc = record_to_doc(SPECS["waiting_line/replace_random"], REPLACE_RANDOM, 0, json_columns=True)
    assert doc["prompt"].endswith('One person in the waiting line must be replaced with "Juan Torres":\n'
                                  '["David Owens", "Kelly Payne"]\nPlease replace one random person with '
                                  '"Juan Torres" and provide only the final list.')
    assert doc["shots"] == [{"prompt": SPECS["waiting_line/replace_random"].render(
        {"context": '["Ann Clark", "Gary Lewis"]', "word": "Jo Campbell"}), "target": '["Jo Campbell", "Gary Lewis"]'}]
    reference = json.loads(doc["reference"])
    assert reference == {"items": ["David Owens", "Kelly Payne"], "new": "Juan Torres"}
    assert score_answer("replace_random", '["Juan Torres", "Kelly Payne"]', reference)["score"] == 1.0

    sudoku = record_to_doc(SPECS["puzzles/sudoku_n4"], SUDOKU, 0, json_columns=True)
    assert "Input:\n0042\n2031\n4023\n3214\nOutput:\n" in sudoku["prompt"]
    assert "Input:\n1342\n4003\n2104\n3420\nOutput:\n" in sudoku["shots"][0]["prompt"]
    assert json.loads(sudoku["reference"]) == {"solution": "1342\n2431\n4123\n3214"}

    copy = record_to_doc(SPECS["waiting_line/copy"], COPY, 0, json_columns=True)
    assert json.loads(copy["reference"]) == {"answer": ["A B", "C D"], "label": '["A B", "C D"]'}


def test_a_record_that_does_not_fit_is_a_clear_error():
    broken = dict(COPY, input=json.dumps({"context": '["A B"]'}))  # one-shot task without an example
    with pytest.raises(RecordError, match="waiting_line/copy is 1-shot but the record has 0 icl_examples"):
        record_to_doc(SPECS["waiting_line/copy"], broken, 0, json_columns=True)
    with pytest.raises(RecordError, match="no field 'index'"):
        record_to_doc(SPECS["waiting_line/remove_index"], COPY, 3, json_columns=True)


def test_hub_loader_uses_the_official_config_names(monkeypatch):
    import datasets

    seen = []

    def fake_load_dataset(path, name=None, split=None, **kwargs):
        seen.append((path, name, split))
        return datasets.Dataset.from_list([SUDOKU, SUDOKU])

    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    docs, where = sources.load_official(SPECS["puzzles/sudoku_n4"], {})
    assert seen == [("furiosa-ai/ParallelBench", "puzzles-sudoku_n4", "test")]
    assert len(docs) == 2 and where.startswith("official release, hub dataset furiosa-ai/ParallelBench")


def test_unreachable_hub_names_the_dataset_and_does_not_fall_back(monkeypatch):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'furiosa-ai/ParallelBench' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.delenv(sources.ENV_DATA_DIR, raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(sources.ParallelBenchDataError) as info:
        sources.load_docs({"task": "waiting_line/shuffle", "source": "official"}, {})
    message = str(info.value)
    assert "hub dataset 'furiosa-ai/ParallelBench' (config 'waiting_line-shuffle'" in message
    assert "PARALLELBENCH_DATA_DIR" in message and "parallelbench_waiting_line_shuffle_gen" in message
    with pytest.raises(sources.ParallelBenchDataError, match="has no offline-generated variant"):
        sources.load_docs({"task": "text_writing/summarization", "source": "official"}, {})


def test_local_copy_must_hold_the_file(tmp_path):
    with pytest.raises(sources.ParallelBenchDataError, match="has no waiting_line/copy.jsonl"):
        sources.load_docs({"task": "waiting_line/copy", "source": "official"},
                          {"parallelbench_data_dir": str(tmp_path)})
    (tmp_path / "waiting_line").mkdir()
    (tmp_path / "waiting_line" / "copy.jsonl").write_text(json.dumps({
        "input": {"context": '["A B"]', "icl_examples": [{"input": {"context": '["C D"]'}, "answer": '["C D"]'}]},
        "answer": '["A B"]', "metadata": {}}) + "\n")
    spec, docs, where = sources.load_docs({"task": "waiting_line/copy", "source": "official"},
                                          {"parallelbench_data_dir": str(tmp_path)})
    assert spec.task_id == "waiting_line/copy" and len(docs) == 1 and str(tmp_path) in where


def test_bad_dataset_kwargs_are_clear_errors():
    with pytest.raises(ValueError, match="needs dataset_kwargs with 'task' and 'source'"):
        sources.load_docs({"task": "waiting_line/copy"})
    with pytest.raises(KeyError, match="unknown ParallelBench task 'waiting_line/sing'"):
        sources.load_docs({"task": "waiting_line/sing", "source": "generated"})
    with pytest.raises(ValueError, match="cannot apply to official data"):
        sources.load_docs({"task": "waiting_line/copy", "source": "official", "lengths": [3, 6]})
    with pytest.raises(ValueError, match="unknown generator option"):
        sources.load_docs({"task": "waiting_line/copy", "source": "generated", "n": 5})
    with pytest.raises(ValueError, match="no offline generator"):
        sources.load_docs({"task": "text_writing/summarization", "source": "generated"})
