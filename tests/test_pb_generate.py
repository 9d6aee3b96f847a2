"""The offline generator: seeded, parameterized by n, and scored 100 % by our own validators."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from lm_eval_mdlm.metrics import lists, puzzles
from lm_eval_mdlm.tasks import generate, sources
from lm_eval_mdlm.tasks.scoring import score_answer
from lm_eval_mdlm.tasks.specs import SPECS

LIST_TASKS = [t for t in SPECS if t.startswith(("waiting_line/", "list_ops/"))]
GENERATED = LIST_TASKS + ["puzzles/latin_square_n4", "puzzles/sudoku_n4"]


def _answer(answer):
    return answer if isinstance(answer, str) else answer["example"]


def test_same_arguments_same_data_other_seed_other_data():
    a = generate.generate("waiting_line/shuffle", lengths=(3, 6), num_samples=20, seed=0)
    assert a == generate.generate("waiting_line/shuffle", lengths=(3, 6), num_samples=20, seed=0)
    assert a != generate.generate("waiting_line/shuffle", lengths=(3, 6), num_samples=20, seed=1)
    assert a != generate.generate("waiting_line/copy", lengths=(3, 6), num_samples=20, seed=0)


@pytest.mark.parametrize("task_id", GENERATED)
def test_generated_answers_and_targets_score_100_percent(task_id):
    spec = SPECS[task_id]
    params = {"num_samples": 40} | ({"lengths": [3, 6]} if task_id in LIST_TASKS else {})
    rows = generate.generate(task_id, **{k: tuple(v) if k == "lengths" else v for k, v in params.items()})
    docs, where = sources.load_generated(spec, params)
    assert "generated offline" in where and len(docs) == len(rows) == 40
    for row, doc in zip(rows, docs):
        reference = json.loads(doc["reference"])
        assert score_answer(spec.scorer, _answer(row["answer"]), reference)["score"] == 1.0
        assert score_answer(spec.scorer, doc["target"], reference)["score"] == 1.0
        shot = row["input"]["icl_examples"][0]
        assert shot["input"] != {k: v for k, v in row["input"].items() if k != "icl_examples"}
        assert len(doc["shots"]) == 1 and doc["shots"][0]["prompt"] != doc["prompt"]


@pytest.mark.parametrize("lengths, expected", [((3, 6), {3: 25, 4: 25, 5: 25, 6: 25}), ((15, 15), {15: 100}),
                                               ((20, 20), {20: 100})])
def test_list_length_n_is_a_parameter(lengths, expected):
    rows = generate.generate("waiting_line/reverse", lengths=lengths, num_samples=100)
    sizes = Counter(len(lists.parse_list(r["input"]["context"])) for r in rows)
    assert sizes == expected
    for row in rows:
        items = lists.parse_list(row["input"]["context"])
        assert len(set(items)) == len(items) and all(len(name.split()) == 2 for name in items)


def test_list_operations_use_single_letter_items():
    rows = generate.generate("list_ops/replace_random", lengths=(15, 15), num_samples=10)
    for row in rows:
        items = lists.parse_list(row["input"]["context"])
        assert row["input"]["context"].startswith("[") and '"' not in row["input"]["context"]
        assert len(items) == 15 and all(len(i) == 1 and i.isupper() for i in items)
        assert row["input"]["word"] not in items


def test_indices_cover_the_official_ranges():
    inserts = generate.generate("waiting_line/insert_index", lengths=(3, 3), num_samples=200)
    removes = generate.generate("waiting_line/remove_index", lengths=(3, 3), num_samples=200)
    assert {r["input"]["index"] for r in inserts} == {0, 1, 2, 3}
    assert {r["input"]["index"] for r in removes} == {0, 1, 2}


def test_shuffle_answers_differ_from_the_input():
    for row in generate.generate("waiting_line/shuffle", lengths=(3, 3), num_samples=50):
        assert row["answer"]["example"] != row["input"]["context"]


@pytest.mark.parametrize("holes", [4, 8])
def test_sudoku_puzzles_have_exactly_one_solution(holes):
    for row in generate.generate("puzzles/sudoku_n4", holes=holes, num_samples=30, seed=3):
        grid = puzzles.parse_grid(row["input"]["sudoku"])
        assert sum(v == 0 for r in grid for v in r) == holes
        assert puzzles.count_solutions(grid) == 1
        assert puzzles.format_grid(puzzles.solve(grid)) == row["answer"]


def test_latin_square_symbols_and_references():
    for row in generate.generate("puzzles/latin_square_n4", num_samples=30):
        symbols = row["answer"]["symbols"]
        assert len(set(symbols)) == 4 and row["input"]["symbols"] == "[" + ", ".join(symbols) + "]"
        assert puzzles.is_latin_square(row["answer"]["example"], symbols) == 1.0


def test_words_to_sentence_word_sets():
    for level in ("easy", "medium", "hard"):
        spec = SPECS[f"text_writing/words_to_sentence_{level}"]
        docs, _ = sources.load_generated(spec, {})
        assert len(docs) == 30 and all(len(json.loads(d["reference"])["words"]) == 4 for d in docs)
        assert docs[0]["prompt"].startswith("Construct a single, coherent sentence using the words ")
        assert ", and " in docs[0]["prompt"] and docs[0]["shots"] == []


def test_bad_generator_parameters_are_clear_errors():
    with pytest.raises(ValueError, match=r"lengths=\(1, 3\) is invalid"):
        generate.generate("waiting_line/copy", lengths=(1, 3))
    with pytest.raises(ValueError, match="need 2 <= lo <= hi <= 25"):
        generate.generate("list_ops/copy", lengths=(26, 26))
    with pytest.raises(ValueError, match="holes=13 is invalid"):
        generate.generate("puzzles/sudoku_n4", holes=13)
    with pytest.raises(ValueError, match="level='impossible' is unknown"):
        generate.words_to_sentence_records("impossible")
