"""``scoring: official | corrected`` and ``score_strict``: agreement with the official validators.

The agreement test feeds 16,200 seeded predictions (gold answers, format variants, content errors;
``pb_variants.py``) through both modes. ``official`` must give, case for case, the (score,
score_strict) the official ParallelBench validators gave on the same cases
(``data/pb_official_expected.json``). ``corrected`` may differ only by the rules listed in
docs/parallelbench.md, each pinned below by its one-line example.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from pathlib import Path

import pb_variants
import pytest

from lm_eval_mdlm.tasks.scoring import ScoringSettings, score_answer

EXPECTED = json.loads((Path(__file__).parent / "data" / "pb_official_expected.json").read_text())
# Variant tags on which corrected may differ from official (the documented rules), by scorer family.
DOCUMENTED = {
    "list": {"no_close", "no_open", "no_brackets", "truncated", "single_quotes", "smart_quotes", "pretty_json",
             "tab_after_comma", "newline_sep", "double_quoted_twice", "empty_middle"},
    "latin_square": {"extra_cell"},
    "sudoku": {"partial_extra", "prose_digits_after", "prose_digit_line_before"},
}


@pytest.fixture(scope="module")
def cases():
    return pb_variants.all_cases()


def _family(scorer: str) -> str:
    return scorer if scorer in ("latin_square", "sudoku") else "list"


def test_the_cases_are_the_ones_the_official_validators_scored(cases):
    digest = hashlib.sha256(json.dumps([list(c[:3]) for c in cases], sort_keys=True).encode()).hexdigest()
    assert len(cases) == EXPECTED["cases"] > 5000 and digest == EXPECTED["sha256"]


def test_official_mode_reproduces_the_official_validators_case_for_case(cases):
    got: dict[str, list[str]] = defaultdict(list)
    for scorer, reference, prediction, _ in cases:
        values = score_answer(scorer, prediction, reference)  # official is the default
        got[scorer].append(str(int(values["score"]) * 2 + int(values["score_strict"])))
    for scorer, codes in EXPECTED["codes"].items():
        mismatches = [i for i, (a, b) in enumerate(zip("".join(got[scorer]), codes)) if a != b]
        assert len(got[scorer]) == len(codes) and not mismatches, (scorer, mismatches[:5])
    # the set is not trivial: every scorer has valid, strictly valid and invalid cases
    for codes in EXPECTED["codes"].values():
        assert {"0", "3"} <= set(codes)


def test_corrected_differs_only_by_documented_rules_and_content_errors_fail_in_both(cases):
    differing: Counter = Counter()
    for scorer, reference, prediction, variant in cases:
        official = score_answer(scorer, prediction, reference, scoring="official")
        corrected = score_answer(scorer, prediction, reference, scoring="corrected")
        assert corrected["score_strict"] <= corrected["score"]
        tag = variant.split("/")[-1]
        if scorer == "exact" and variant.startswith("error/"):
            assert official["score"] == corrected["score"] == 0.0, (variant, prediction)
        if official["score"] != corrected["score"] and scorer != "sort":  # Sort: label vs last-name rule
            assert tag in DOCUMENTED[_family(scorer)], (scorer, variant, prediction, official, corrected)
            differing[tag] += 1
    assert set(differing) == set().union(*DOCUMENTED.values())  # every documented rule shows up


@pytest.mark.parametrize("scorer, reference, prediction, official, corrected", [
    # the three bugs the corrected rules fix
    ("exact", {"answer": ["A", "B"]}, '["A", "B",]', 1.0, 1.0),
    ("latin_square", {"symbols": ["H", "4", "A", "C"]}, "Sure, here is the Latin square:\nH,4,A,C\n4,A,C,H\n"
     "A,C,H,4\nC,H,4,A", 1.0, 1.0),
    ("latin_square", {"symbols": ["H", "4", "A", "C"]}, "c1,c2,c3,c4\nH,4,A,C\n4,A,C,H\nA,C,H,4\nC,H,4,A", 1.0, 1.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1342\n2431\n4123\n3214\n1342\n2431\n4123\n3214", 0.0, 0.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1342\n2431\n4123\n3214\n12", 1.0, 0.0),
    # formats both accept
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1\t3\t4\t2\n2\t4\t3\t1\n4\t1\t2\t3\n3\t2\t1\t4", 1.0, 1.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1342.\n2431.\n4123.\n3214.", 1.0, 1.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "[1, 3, 4, 2]\n[2, 4, 3, 1]\n[4, 1, 2, 3]\n[3, 2, 1, 4]",
     1.0, 1.0),
    # every documented difference, one line each
    ("exact", {"answer": ["A", "B"]}, '["A", "B"', 1.0, 0.0),
    ("exact", {"answer": ["A", "B"]}, '"A", "B"', 1.0, 0.0),
    ("exact", {"answer": ["A", "B"]}, "['A', 'B']", 0.0, 1.0),
    ("exact", {"answer": ["A", "B"]}, "[\u201cA\u201d, \u201cB\u201d]", 0.0, 1.0),
    ("exact", {"answer": ["A", "B"]}, '[\n  "A",\n  "B"\n]', 0.0, 1.0),
    ("exact", {"answer": ["A", "B"]}, '["A",\t"B"]', 0.0, 1.0),
    ("exact", {"answer": ["A", "B"]}, '[""A"", ""B""]', 1.0, 0.0),
    ("exact", {"answer": ["A", "B"]}, '["A", , "B"]', 1.0, 0.0),
    ("sort", {"items": ["Sean Diaz", "David Lewis"], "label": '["David Lewis", "Sean Diaz"]'},
     '["Sean Diaz", "David Lewis"]', 0.0, 1.0),
    ("remove_random", {"items": ["A", "B", "A"]}, '["A", "B"]', 0.0, 1.0),
    ("latin_square", {"symbols": ["H", "4", "A", "C"]}, "H,4,A,C,H\n4,A,C,H,4\nA,C,H,4,A\nC,H,4,A,C", 1.0, 0.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1342\n2431\n4123\n3214\nEach row has the digits 1-4 in 2x2 "
     "boxes.", 0.0, 1.0),
    ("sudoku", {"solution": "1342\n2431\n4123\n3214"}, "1-3-4-2\n2-4-3-1\n4-1-2-3\n3-2-1-4", 1.0, 0.0),
])
def test_documented_rule(scorer, reference, prediction, official, corrected):
    reference = dict(reference)
    if scorer == "exact":
        reference["label"] = '["A", "B"]'
    assert score_answer(scorer, prediction, reference, scoring="official")["score"] == official
    assert score_answer(scorer, prediction, reference, scoring="corrected")["score"] == corrected


@pytest.mark.parametrize("prediction, strict", [
    ('["Ann Lee", "Bo Li"]', 1.0), ('["Ann Lee","Bo Li"]', 0.0), ("[Ann Lee, Bo Li]", 0.0),
    ('["Ann Lee", "Bo Li",]', 0.0), ('Sure: ["Ann Lee", "Bo Li"]', 1.0), ('[" Ann Lee", "Bo Li"]', 0.0),
])
def test_score_strict_is_the_exact_official_list_format(prediction, strict):
    reference = {"answer": ["Ann Lee", "Bo Li"], "label": '["Ann Lee", "Bo Li"]'}
    official = score_answer("exact", prediction, reference)
    corrected = score_answer("exact", prediction, reference, scoring="corrected")
    assert official["score_strict"] == strict
    assert corrected["score_strict"] == strict * corrected["score"]


def test_sudoku_strict_wants_bare_digit_rows():
    reference = {"solution": "1342\n2431\n4123\n3214"}
    assert score_answer("sudoku", "\n1342\n2431\n4123\n3214\n", reference)["score_strict"] == 1.0
    assert score_answer("sudoku", "1 3 4 2\n2 4 3 1\n4 1 2 3\n3 2 1 4", reference) == {"score": 1.0,
                                                                                       "score_strict": 0.0}


def test_scoring_setting_is_validated_and_read_from_metadata():
    assert ScoringSettings.from_metadata({}).scoring == "official"
    assert ScoringSettings.from_metadata({"scoring": "corrected"}).scoring == "corrected"
    with pytest.raises(ValueError, match="scoring='exact' is not a ParallelBench scoring mode; use 'official'"):
        ScoringSettings.from_metadata({"scoring": "exact"})
    with pytest.raises(ValueError, match="scoring='strict' is unknown; use one of official, corrected"):
        score_answer("exact", "[A]", {"answer": ["A"]}, scoring="strict")


def _load(name: str, **metadata: str):
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, include_path=str(Path(__file__).parents[1] / "task_yamls"),
                          metadata=metadata or None)
    return manager.load([name])["tasks"][name]


def test_metadata_switch_reaches_the_task_and_its_targets():
    task = _load("parallelbench_waiting_line_sort_gen", scoring="corrected")
    assert task.config.metadata["scoring"] == "corrected"
    doc = task.dataset["test"][0]
    prediction = doc["target"].replace('"', "'")  # single quotes: corrected accepts, official does not
    assert task.process_results(doc, [prediction])["score"] == 1.0
    official = _load("parallelbench_waiting_line_sort_gen")
    assert official.config.metadata["scoring"] == "official"
    assert official.process_results(doc, [prediction])["score"] == 0.0
    assert official.process_results(doc, [doc["target"]])["score_strict"] == 1.0
