"""List validators for ParallelBench's Waiting Line and list operations: the ``scoring: corrected`` rules.

The official rules, quirks included, are in :mod:`lm_eval_mdlm.metrics.official`; these are ours,
and docs/parallelbench.md lists every rule where the two differ.

Every validator takes the model's raw answer text and returns 1.0 (valid) or 0.0. The answer must
contain one bracketed list, ``[...]``; items are comma separated and may be double quoted (Waiting
Line answers look like ``["Billy Ramos", "Alan Wells"]``, list-op answers like ``[A, B, C]``).

Definitions (ParallelBench paper, Table 2 and §5 "Evaluation Metrics": accuracy = the output matches
one of the valid solutions; the "random" variants follow the official metrics, where any position
is valid):

* exact tasks (copy, sort, reverse, insert/remove/replace at an index): the list equals the answer;
* shuffle: the same multiset of items as the input, and not the input order;
* insert_random: removing the new item from *some* position gives back the input;
* remove_random: the input with *some* single item removed;
* replace_random: the input with the item at *some* position replaced by the new item;
* sort: the input's items ordered by last name. The prompt asks "organized alphabetically by last
  name"; the official October 2025 labels are sorted by the whole name instead, so we do not compare
  with them (see docs/parallelbench.md). People with the same last name may come in any order.

Unlike the official loose parser we reject an answer without both brackets: a list that was never
closed (or opened) is a formatting failure, which parallel decoding does produce.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

_QUOTES = "\"'\u201c\u201d"


def parse_list(text: str) -> list[str] | None:
    """The items of the last ``[...]`` list in ``text``; None if no opened-and-closed list exists.

    Items are stripped of whitespace and one layer of (straight, single or typographic) quotes; an
    empty list ``[]`` gives ``[]`` and a trailing comma (``["A", "B",]``) adds no empty item.
    """
    start = text.rfind("[")
    if start < 0:
        return None
    end = text.find("]", start + 1)
    if end < 0:
        return None
    body = text[start + 1:end].strip()
    if not body:
        return []
    pieces = body.split(",")
    if len(pieces) > 1 and not pieces[-1].strip():  # a trailing comma, '["A", "B",]', ends no item
        pieces.pop()
    return [_unquote(item) for item in pieces]


def _unquote(item: str) -> str:
    item = item.strip()
    if len(item) >= 2 and item[0] in _QUOTES and item[-1] in _QUOTES:
        item = item[1:-1]
    return item.strip()


def format_list(items: Sequence[str], quoted: bool = True) -> str:
    """Render items the way the benchmark prints lists: ``["A B", "C D"]`` (or ``[A, B]`` unquoted)."""
    if quoted:
        return "[" + ", ".join(f'"{item}"' for item in items) + "]"
    return "[" + ", ".join(items) + "]"


def last_name_key(name: str) -> str:
    """Sort key for "alphabetically by last name": the last word, case-insensitive."""
    return name.split()[-1].casefold() if name.split() else ""


def sort_by_last_name(items: Sequence[str]) -> list[str]:
    """The items ordered by last name (stable for equal last names)."""
    return sorted(items, key=last_name_key)


def exact_match(prediction: str, answer: Sequence[str]) -> float:
    """Copy, reverse and the *_index operations: the parsed list equals ``answer``."""
    return float(parse_list(prediction) == list(answer))


def sorted_by_last_name(prediction: str, items: Sequence[str]) -> float:
    """Sort: a permutation of ``items`` whose last names are in alphabetical order."""
    predicted = parse_list(prediction)
    if predicted is None or Counter(predicted) != Counter(items):
        return 0.0
    keys = [last_name_key(name) for name in predicted]
    return float(all(a <= b for a, b in zip(keys, keys[1:])))


def shuffled(prediction: str, items: Sequence[str]) -> float:
    """Shuffle: the same multiset of items in a different order (a shuffle equal to the input fails)."""
    predicted = parse_list(prediction)
    if predicted is None:
        return 0.0
    return float(Counter(predicted) == Counter(items) and predicted != list(items))


def inserted_anywhere(prediction: str, items: Sequence[str], new_item: str) -> float:
    """insert_random: ``new_item`` placed at any one position, everything else in input order."""
    predicted = parse_list(prediction)
    if predicted is None or len(predicted) != len(items) + 1:
        return 0.0
    items = list(items)
    return float(any(predicted[i] == new_item and predicted[:i] + predicted[i + 1:] == items
                     for i in range(len(predicted))))


def removed_anywhere(prediction: str, items: Sequence[str]) -> float:
    """remove_random: exactly one item (any one) removed, the rest in input order."""
    predicted = parse_list(prediction)
    if predicted is None or len(predicted) != len(items) - 1:
        return 0.0
    items = list(items)
    return float(any(items[:i] + items[i + 1:] == predicted for i in range(len(items))))


def replaced_anywhere(prediction: str, items: Sequence[str], new_item: str) -> float:
    """replace_random: the item at any one position replaced by ``new_item``, the rest unchanged."""
    predicted = parse_list(prediction)
    if predicted is None or len(predicted) != len(items):
        return 0.0
    items = list(items)
    return float(any(predicted[i] == new_item and predicted[:i] + predicted[i + 1:] == items[:i] + items[i + 1:]
                     for i in range(len(items))))
