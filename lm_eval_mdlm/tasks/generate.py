"""Offline, seeded generator of ParallelBench-style data for the procedural tasks.

Writes records in the official schema (see :mod:`lm_eval_mdlm.tasks.records`), so generated and
official data are scored by the same code. Same arguments, same records, on any machine: every
task draws from its own ``random.Random`` seeded with (task id, parameters, seed).

* Waiting Line: lists of distinct "First Last" names (our own name lists) of length n, the ten
  operations of the paper's Table 3; insert positions 0..n, remove/replace positions 0..n-1, as
  the official data. ``lengths=(lo, hi)`` spreads the samples evenly over n = lo..hi (the official
  benchmark uses 3..6, 25 samples each); ``lo == hi`` fixes n (the paper's harder n = 15).
* List operations (§4): the same operations over distinct single-letter items; the replacement
  item is a letter not in the list.
* Latin square: n random distinct symbols; the reference is one random Latin square over them.
* Sudoku (4 x 4): a random solved grid with ``holes`` cells emptied one by one, keeping only
  removals after which the puzzle still has exactly one solution (checked by exhaustive search).
* Words-to-Sentence: our curated four-word sets per level (no randomness).

Every record of a one-shot task carries its own one-shot example (as the official October 2025
data does): a fresh input of 3..6 items (a 4 x 4 puzzle), never equal to the test input.
"""

from __future__ import annotations

import functools
import json
import random
import zlib
from collections.abc import Callable
from typing import Any

from lm_eval_mdlm.metrics.lists import format_list, sort_by_last_name
from lm_eval_mdlm.metrics.puzzles import count_solutions, format_grid
from lm_eval_mdlm.tasks import vocab

Record = dict[str, Any]
SHOT_LENGTHS = (3, 6)
LIST_OPS = ("copy", "sort", "reverse", "shuffle", "insert_index", "insert_random", "remove_index",
            "remove_random", "replace_index", "replace_random")


def task_seed(task_id: str, params: dict[str, Any], seed: int) -> int:
    """A stable seed for one task and parameter set (Python's ``hash`` is salted per process)."""
    key = json.dumps([task_id, params, seed], sort_keys=True)
    return zlib.crc32(key.encode("utf-8"))


def _list_record(op: str, items: list[str], pool: tuple[str, ...], rng: random.Random, quoted: bool) -> Record:
    """One record of list operation ``op`` on ``items``; new items are drawn from ``pool``."""
    n = len(items)
    fields: dict[str, Any] = {"context": format_list(items, quoted)}
    fmt = functools.partial(format_list, quoted=quoted)
    new = rng.choice([p for p in pool if p not in items]) if op.startswith(("insert", "replace")) else None
    if new is not None:
        fields["word"] = new
    if op == "copy":
        answer: Any = fmt(items)
    elif op == "sort":
        answer = fmt(sort_by_last_name(items))
    elif op == "reverse":
        answer = fmt(items[::-1])
    elif op == "shuffle":
        order = items[:]
        while order == items:
            rng.shuffle(order)
        answer = {"input": items, "example": fmt(order)}
    elif op in ("insert_index", "insert_random"):
        index = rng.randint(0, n)
        result = fmt(items[:index] + [new] + items[index:])
        if op == "insert_index":
            fields["index"] = index
        answer = result if op == "insert_index" else {"input": items, "word": new, "example": result}
    elif op in ("remove_index", "remove_random"):
        index = rng.randrange(n)
        result = fmt(items[:index] + items[index + 1:])
        if op == "remove_index":
            fields["index"] = index
        answer = result if op == "remove_index" else {"input": items, "example": result}
    elif op in ("replace_index", "replace_random"):
        index = rng.randrange(n)
        result = fmt(items[:index] + [new] + items[index + 1:])
        if op == "replace_index":
            fields["index"] = index
        answer = result if op == "replace_index" else {"input": items, "word": new, "example": result}
    else:
        raise ValueError(f"unknown list operation {op!r}; known: {', '.join(LIST_OPS)}.")
    return {"input": fields, "answer": answer, "metadata": {"length": n}}


def _lengths_plan(lengths: tuple[int, int], num_samples: int) -> list[int]:
    lo, hi = lengths
    span = list(range(lo, hi + 1))
    per, extra = divmod(num_samples, len(span))
    return [n for i, n in enumerate(span) for _ in range(per + (i < extra))]


def list_records(task_id: str, lengths: tuple[int, int], num_samples: int, seed: int) -> list[Record]:
    """Waiting Line (``waiting_line/<op>``) or list-operation (``list_ops/<op>``) records."""
    category, op = task_id.split("/", 1)
    lo, hi = (int(v) for v in lengths)
    if category == "waiting_line":
        pool = vocab.PEOPLE
        quoted = True
    else:
        pool, quoted = vocab.LIST_ITEMS, False
    if not 2 <= lo <= hi or hi > len(pool) - 1 or hi > 200:
        raise ValueError(f"lengths={lengths!r} is invalid for {task_id}: need 2 <= lo <= hi <= "
                         f"{min(len(pool) - 1, 200)} (list length n; e.g. lengths: [3, 6] or [15, 15]).")
    if num_samples < 1:
        raise ValueError(f"num_samples={num_samples!r} is invalid: it must be >= 1.")
    rng = random.Random(task_seed(task_id, {"lengths": [lo, hi], "num_samples": num_samples}, seed))
    records = []
    for n in _lengths_plan((lo, hi), num_samples):
        items = rng.sample(pool, n)
        record = _list_record(op, items, pool, rng, quoted)
        shot_items = items
        while shot_items == items:
            shot_items = rng.sample(pool, rng.randint(*SHOT_LENGTHS))
        shot = _list_record(op, shot_items, pool, rng, quoted)
        record["input"]["icl_examples"] = [{"input": shot["input"], "answer": shot["answer"]}]
        records.append(record)
    return records


def _latin_square(symbols: list[str], rng: random.Random) -> list[list[str]]:
    n = len(symbols)
    rows, cols = rng.sample(range(n), n), rng.sample(range(n), n)
    return [[symbols[(r + c) % n] for c in cols] for r in rows]


def _latin_record(size: int, rng: random.Random) -> Record:
    symbols = rng.sample(vocab.LATIN_SYMBOLS, size)
    square = "\n".join(",".join(row) for row in _latin_square(symbols, rng))
    return {"input": {"size": size, "symbols": "[" + ", ".join(symbols) + "]"},
            "answer": {"symbols": symbols, "example": square}, "metadata": {"length": size}}


def _one_shot_records(make: Callable[[], Record], num_samples: int) -> list[Record]:
    """``num_samples`` records from ``make``, each carrying a freshly made record as its one-shot example."""
    records = []
    for _ in range(num_samples):
        record, shot = make(), make()
        record["input"]["icl_examples"] = [{"input": shot["input"], "answer": shot["answer"]}]
        records.append(record)
    return records


def latin_square_records(size: int, num_samples: int, seed: int) -> list[Record]:
    """Latin-square prompts over ``size`` random symbols, each with a one-shot example."""
    if not 2 <= size <= len(vocab.LATIN_SYMBOLS):
        raise ValueError(f"size={size!r} is invalid: a Latin square needs 2..{len(vocab.LATIN_SYMBOLS)} symbols.")
    rng = random.Random(task_seed("puzzles/latin_square", {"size": size, "num_samples": num_samples}, seed))
    return _one_shot_records(lambda: _latin_record(size, rng), num_samples)


def _solved_sudoku(rng: random.Random) -> list[list[int]]:
    """A uniformly shuffled valid 4 x 4 grid (digit, band, row-in-band, stack, column permutations)."""
    base = [[(2 * (r % 2) + r // 2 + c) % 4 + 1 for c in range(4)] for r in range(4)]
    digits = rng.sample(range(1, 5), 4)
    bands, stacks = rng.sample((0, 1), 2), rng.sample((0, 1), 2)
    rows = [2 * b + i for b in bands for i in rng.sample((0, 1), 2)]
    cols = [2 * s + j for s in stacks for j in rng.sample((0, 1), 2)]
    grid = [[digits[base[r][c] - 1] for c in cols] for r in rows]
    return [list(col) for col in zip(*grid)] if rng.random() < 0.5 else grid


def _sudoku_record(holes: int, rng: random.Random) -> Record:
    for _ in range(1000):
        solution = _solved_sudoku(rng)
        puzzle = [row[:] for row in solution]
        emptied = 0
        for r, c in rng.sample([(r, c) for r in range(4) for c in range(4)], 16):
            if emptied == holes:
                break
            kept, puzzle[r][c] = puzzle[r][c], 0
            if count_solutions(puzzle) == 1:
                emptied += 1
            else:
                puzzle[r][c] = kept
        if emptied == holes:
            return {"input": {"sudoku": format_grid(puzzle)}, "answer": format_grid(solution),
                    "metadata": {"length": 16 - holes}}
    raise ValueError(f"holes={holes} could not be reached with a unique solution; use 1..10 for 4x4.")


def sudoku_records(holes: int, num_samples: int, seed: int) -> list[Record]:
    """4 x 4 Sudoku puzzles with ``holes`` empty cells and a unique solution (paper data: 4 holes)."""
    if not 1 <= holes <= 12:
        raise ValueError(f"holes={holes!r} is invalid: a 4x4 Sudoku can have 1..12 empty cells.")
    rng = random.Random(task_seed("puzzles/sudoku_n4", {"holes": holes, "num_samples": num_samples}, seed))
    return _one_shot_records(lambda: _sudoku_record(holes, rng), num_samples)


def words_to_sentence_records(level: str) -> list[Record]:
    """Our curated Words-to-Sentence sets of one level, in the official schema."""
    if level not in vocab.WORDS_TO_SENTENCE:
        raise ValueError(f"level={level!r} is unknown; valid levels: {', '.join(vocab.WORDS_TO_SENTENCE)}.")
    return [{"input": {"words": ", ".join(words[:-1]) + ", and " + words[-1]},
             "answer": {"words": list(words)}, "metadata": {"level": level}}
            for words in vocab.WORDS_TO_SENTENCE[level]]


def generate(task_id: str, *, lengths: tuple[int, int] = (3, 6), num_samples: int = 100, seed: int = 0,
             size: int = 4, holes: int = 4) -> list[Record]:
    """Records for ``task_id`` (only the parameters that task uses matter)."""
    category, _, op = task_id.partition("/")
    if category in ("waiting_line", "list_ops"):
        return list_records(task_id, lengths, num_samples, seed)
    if task_id == "puzzles/latin_square_n4":
        return latin_square_records(size, num_samples, seed)
    if task_id == "puzzles/sudoku_n4":
        return sudoku_records(holes, num_samples, seed)
    if category == "text_writing" and op.startswith("words_to_sentence_"):
        return words_to_sentence_records(op.removeprefix("words_to_sentence_"))
    raise ValueError(f"no offline generator for {task_id!r}: summarization and paraphrasing need the "
                     "official data (hub), the others are generated.")
