"""List validators of ParallelBench (Waiting Line and the synthetic list operations)."""

from __future__ import annotations

import pytest

from lm_eval_mdlm.metrics import lists

PEOPLE = ["Jack Burns", "Jessica Martin", "Tyler Lopez"]
TEXT = '["Jack Burns", "Jessica Martin", "Tyler Lopez"]'


def test_parse_list_reads_quoted_unquoted_and_surrounding_text():
    assert lists.parse_list(TEXT) == PEOPLE
    assert lists.parse_list("Here you go: [A, B, C].") == ["A", "B", "C"]
    assert lists.parse_list("[\u201cAnn Lee\u201d, 'Bo Li']") == ["Ann Lee", "Bo Li"]
    assert lists.parse_list("[]") == []


@pytest.mark.parametrize("text", ['"Jack Burns", "Jessica Martin"]', '["Jack Burns", "Jessica Martin"', "Jack Burns"])
def test_missing_bracket_is_not_a_list(text):
    assert lists.parse_list(text) is None
    assert lists.exact_match(text, ["Jack Burns", "Jessica Martin"]) == 0.0
    assert lists.shuffled(text, ["Jessica Martin", "Jack Burns"]) == 0.0


def test_exact_match():
    assert lists.exact_match(TEXT, PEOPLE) == 1.0
    assert lists.exact_match('["Jack Burns", "Tyler Lopez", "Jessica Martin"]', PEOPLE) == 0.0
    assert lists.exact_match('["Jack Burns", "Jessica Martin"]', PEOPLE) == 0.0


def test_swapped_names_across_people_are_rejected():
    # Paper, appendix H: the model output for shuffling ["Jack Burns", "Jessica Martin", "Tyler Lopez"].
    failure = '["Jessica Lopez", "Jack Burns", "Tyler Martin"]'
    assert lists.shuffled(failure, PEOPLE) == 0.0
    assert lists.exact_match(failure, PEOPLE) == 0.0
    assert lists.sorted_by_last_name(failure, PEOPLE) == 0.0
    assert lists.removed_anywhere('["Jessica Lopez", "Tyler Martin"]', PEOPLE) == 0.0


def test_shuffle():
    assert lists.shuffled('["Tyler Lopez", "Jack Burns", "Jessica Martin"]', PEOPLE) == 1.0
    assert lists.shuffled(TEXT, PEOPLE) == 0.0  # equal to the input
    assert lists.shuffled('["Jack Burns", "Jack Burns", "Tyler Lopez"]', PEOPLE) == 0.0  # duplicated name
    assert lists.shuffled('["Tyler Lopez", "Jack Burns"]', PEOPLE) == 0.0  # someone lost


def test_sort_uses_last_names_and_accepts_any_order_of_equal_last_names():
    people = ["David Lewis", "Patrick Tran", "Sean Diaz"]
    assert lists.sort_by_last_name(people) == ["Sean Diaz", "David Lewis", "Patrick Tran"]
    assert lists.sorted_by_last_name('["Sean Diaz", "David Lewis", "Patrick Tran"]', people) == 1.0
    # the official label (sorted by first name) does not follow the prompt
    assert lists.sorted_by_last_name('["David Lewis", "Patrick Tran", "Sean Diaz"]', people) == 0.0
    twins = ["Amy Smith", "Bob Jones", "Zed Smith"]
    assert lists.sorted_by_last_name('["Bob Jones", "Zed Smith", "Amy Smith"]', twins) == 1.0
    assert lists.sorted_by_last_name('["Bob Jones", "Amy Smith", "Amy Smith"]', twins) == 0.0


def test_insert_random_accepts_every_position_and_nothing_else():
    new = "Justin McDonald"
    for i in range(len(PEOPLE) + 1):
        assert lists.inserted_anywhere(lists.format_list(PEOPLE[:i] + [new] + PEOPLE[i:]), PEOPLE, new) == 1.0
    assert lists.inserted_anywhere(lists.format_list(["Jessica Martin", new, "Jack Burns", "Tyler Lopez"]),
                                   PEOPLE, new) == 0.0  # also reordered
    assert lists.inserted_anywhere(lists.format_list(PEOPLE + ["Justin Burns"]), PEOPLE, new) == 0.0
    assert lists.inserted_anywhere(TEXT, PEOPLE, new) == 0.0


def test_remove_random_accepts_every_position_and_nothing_else():
    for i in range(len(PEOPLE)):
        assert lists.removed_anywhere(lists.format_list(PEOPLE[:i] + PEOPLE[i + 1:]), PEOPLE) == 1.0
    assert lists.removed_anywhere('["Tyler Lopez", "Jack Burns"]', PEOPLE) == 0.0  # reordered
    assert lists.removed_anywhere('["Jack Burns", "Jack Burns"]', PEOPLE) == 0.0  # duplicated name
    assert lists.removed_anywhere('["Jack Burns"]', PEOPLE) == 0.0  # two removed


def test_replace_random_accepts_every_position_and_nothing_else():
    new = "Juan Torres"
    for i in range(len(PEOPLE)):
        assert lists.replaced_anywhere(lists.format_list(PEOPLE[:i] + [new] + PEOPLE[i + 1:]), PEOPLE, new) == 1.0
    assert lists.replaced_anywhere(lists.format_list([new, new, "Tyler Lopez"]), PEOPLE, new) == 0.0
    assert lists.replaced_anywhere(lists.format_list(["Juan Lopez", "Jessica Martin", "Tyler Torres"]),
                                   PEOPLE, new) == 0.0
    assert lists.replaced_anywhere(TEXT, PEOPLE, new) == 0.0


def test_single_token_list_operations():
    items = list("ABCDE")
    assert lists.exact_match("[A, B, C, D, E]", items) == 1.0
    assert lists.replaced_anywhere("[A, B, F, D, E]", items, "F") == 1.0
    assert lists.replaced_anywhere("[A, F, F, D, E]", items, "F") == 0.0
    assert lists.shuffled("[E, D, C, B, A]", items) == 1.0
    assert lists.shuffled("[A, B, C, D, E]", items) == 0.0
