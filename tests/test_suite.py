"""Strict answer extractors of the MDLM suite: each reads only an answer the model marks as final."""

from __future__ import annotations

import pytest

from lm_eval_mdlm.tasks.suite import extract


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
