"""ParallelBench's official validators, rule for rule: the ``scoring: official`` mode.

Every function returns ``(score, score_strict)``: the official per-sample validity and its strict
variant (exact list formatting), as the furiosa-ai/ParallelBench release defines them. The rules
are written here from the official definitions, quirks included, so numbers are comparable with
the paper's; :mod:`lm_eval_mdlm.metrics.lists` and :mod:`lm_eval_mdlm.metrics.puzzles` hold our
``corrected`` rules (docs/parallelbench.md lists every difference).

Official list reading, loose (``score``):

* text after the last ``[`` if there is one, then up to the first ``]`` if there is one (a missing
  bracket is accepted);
* split at ``,``; pieces that are empty or only whitespace are dropped (so a trailing comma is
  harmless); each piece loses leading/trailing spaces and double quotes (not tabs, not single or
  typographic quotes).

Strict (``score_strict``): both brackets required; items separated by exactly ``", "``; every item
wrapped in straight double quotes and holding no other double quote. ``[]`` is not a valid list.

Latin square: non-blank lines (split at ``\\n``, stripped) whose comma-separated cells, as a *set*,
equal the symbols are rows; at least n are needed, the first n are the grid; every row and every
column (``zip`` of the rows, so an extra cell per row is not seen) holds each symbol. No strict
variant: ``score_strict`` equals ``score``.

Sudoku, loose: spaces and commas removed; of the non-blank lines, those with exactly n decimal
digits (anywhere in the line) are rows; there must be exactly n such rows. Strict: exactly n
non-blank lines, each exactly n decimal digits. The grid must equal the solution.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

_DIGIT = re.compile(r"\d")


def _bracket_body(text: str) -> tuple[str, bool]:
    """(the text between the last ``[`` and the next ``]``, whether both brackets were there)."""
    both = "[" in text
    if both:
        text = text.rsplit("[", 1)[1]
    if "]" in text:
        text = text.split("]", 1)[0]
    else:
        both = False
    return text, both


def parse_loose(text: str) -> list[str]:
    """The official loose list reading (never fails; see the module docstring)."""
    body, _ = _bracket_body(text)
    return [piece.strip('" ') for piece in body.strip("[]").split(",") if piece.strip()]


def parse_strict(text: str) -> list[str] | None:
    """The official strict list reading; None when the formatting is not exactly ``["a", "b"]``."""
    body, both = _bracket_body(text)
    if not both:
        return None
    items = []
    for piece in body.split(", "):
        if not (piece.startswith('"') and piece.endswith('"')):
            return None
        item = piece[1:-1]
        if '"' in item:
            return None
        items.append(item)
    return items


def _both(rule: Callable[..., float], prediction: str, *args: Any) -> tuple[float, float]:
    """(rule on the loose reading, rule on the strict reading or 0 when it fails)."""
    strict = parse_strict(prediction)
    return rule(parse_loose(prediction), *args), 0.0 if strict is None else rule(strict, *args)


def _equal(predicted: list[str], answer: Sequence[str]) -> float:
    return float(predicted == list(answer))


def _shuffled(predicted: list[str], items: Sequence[str]) -> float:
    return float(sorted(predicted) == sorted(items) and predicted != list(items))


def _inserted(predicted: list[str], items: Sequence[str], new: str) -> float:
    # The first occurrence of the new item is taken out; the rest must be the input.
    if new not in predicted:
        return 0.0
    rest = list(predicted)
    rest.remove(new)
    return float(rest == list(items))


def _removed(predicted: list[str], items: Sequence[str]) -> float:
    # One item shorter, exactly one distinct input item missing; its first occurrence is removed.
    if len(predicted) != len(items) - 1:
        return 0.0
    missing = set(items) - set(predicted)
    if len(missing) != 1:
        return 0.0
    expected = list(items)
    expected.remove(missing.pop())
    return float(predicted == expected)


def _replaced(predicted: list[str], items: Sequence[str], new: str) -> float:
    # Same length; the input with the position of the new item's first occurrence overwritten.
    if len(predicted) != len(items) or new not in predicted:
        return 0.0
    expected = list(items)
    expected[predicted.index(new)] = new
    return float(predicted == expected)


def exact(prediction: str, label: str) -> tuple[float, float]:
    """Copy, reverse, sort and the *_index operations: the list equals the label's (read loosely).

    The official Sort labels are the items in plain string order (by first name).
    """
    return _both(_equal, prediction, parse_loose(label))


def shuffle(prediction: str, items: Sequence[str]) -> tuple[float, float]:
    """Shuffle: the same items (as a sorted multiset) in an order different from the input."""
    return _both(_shuffled, prediction, items)


def insert_random(prediction: str, items: Sequence[str], new: str) -> tuple[float, float]:
    """insert_random: removing the first occurrence of ``new`` gives the input."""
    return _both(_inserted, prediction, items, new)


def remove_random(prediction: str, items: Sequence[str]) -> tuple[float, float]:
    """remove_random: one item shorter and equal to the input minus the one missing item."""
    return _both(_removed, prediction, items)


def replace_random(prediction: str, items: Sequence[str], new: str) -> tuple[float, float]:
    """replace_random: the input with the new item written where it first occurs in the answer."""
    return _both(_replaced, prediction, items, new)


def latin_square(prediction: str, symbols: Sequence[str]) -> tuple[float, float]:
    """Latin square (module docstring); ``score_strict`` is ``score``, as officially."""
    wanted = set(symbols)
    lines = [line.strip() for line in prediction.split("\n") if line.strip()]
    rows = [[cell.strip() for cell in line.split(",")] for line in lines]
    rows = [row for row in rows if set(row) == wanted][:len(wanted)]
    ok = len(rows) == len(wanted) and all(set(column) == wanted for column in zip(*rows))
    return float(ok), float(ok)


def parse_sudoku_loose(text: str, size: int) -> list[list[int]] | None:
    """The official loose grid reading (module docstring); None unless exactly ``size`` rows are found."""
    lines = [line.strip() for line in text.strip().replace(" ", "").replace(",", "").split("\n")]
    rows = [[int(d) for d in _DIGIT.findall(line)] for line in lines if line]
    rows = [row for row in rows if len(row) == size]
    return rows if len(rows) == size else None


def parse_sudoku_strict(text: str, size: int) -> list[list[int]] | None:
    """The official strict grid reading: exactly ``size`` non-blank lines of ``size`` digits, else None."""
    lines = [line.strip() for line in text.strip().split("\n") if line.strip()]
    if len(lines) != size or any(len(line) != size or not line.isdecimal() for line in lines):
        return None
    return [[int(c) for c in line] for line in lines]


def sudoku(prediction: str, solution: str, size: int = 4) -> tuple[float, float]:
    """Sudoku: the grid (loose / strict reading) equals the solution (read strictly)."""
    expected = parse_sudoku_strict(solution, size)
    return (float(parse_sudoku_loose(prediction, size) == expected),
            float(parse_sudoku_strict(prediction, size) == expected))
