"""A fixed, seeded set of several thousand ParallelBench predictions for the scoring agreement tests.

For every document of our generated list, Latin-square and Sudoku data it writes the gold answer,
the format variants real models produce (quotes, spacing, brackets, prose, headers, extra rows) and
content errors (dropped, duplicated, swapped or replaced items, truncation, wrong cells). Each case
is ``(scorer, reference, prediction, variant)``; ``reference`` is what :mod:`lm_eval_mdlm.tasks.scoring`
reads. The expected official scores of these exact cases are in ``data/pb_official_expected.json``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

from lm_eval_mdlm.metrics.lists import sort_by_last_name
from lm_eval_mdlm.tasks.generate import generate
from lm_eval_mdlm.tasks.records import records_to_docs
from lm_eval_mdlm.tasks.specs import get_spec

Case = tuple[str, dict[str, Any], str, str]
LIST_TASKS = ("copy", "reverse", "sort", "shuffle", "insert_index", "insert_random", "remove_index",
              "remove_random", "replace_index", "replace_random")


def _q(items: list[str], left: str = '"', right: str = '"', sep: str = ", ") -> str:
    return "[" + sep.join(f"{left}{item}{right}" for item in items) + "]"


def list_formats(items: list[str]) -> dict[str, str]:
    """The same list written in the formats a model may use (tag -> text)."""
    gold = _q(items)
    return {
        "gold": gold, "unquoted": _q(items, "", ""), "trailing_comma": gold[:-1] + ",]",
        "single_quotes": _q(items, "'", "'"), "smart_quotes": _q(items, "\u201c", "\u201d"),
        "pretty_json": json.dumps(items, indent=2), "tab_after_comma": _q(items, sep=",\t"),
        "no_space": _q(items, sep=","), "inner_spaces": _q(items, '" ', ' "'),
        "no_close": gold[:-1], "no_open": gold[1:], "no_brackets": gold[1:-1],
        "prose_before": "Here is the final list: " + gold, "prose_after": gold + "\nI hope this helps.",
        "prose_comma_after": gold + "\nSure, done.", "two_lists": _q(items[:1]) + "\n\n" + gold,
        "list_then_list": gold + "\n" + _q(items[::-1]), "empty_middle": gold.replace(", ", ", , ", 1),
        "newline_sep": _q(items, sep=",\n"), "double_quoted_twice": _q(items, '""', '""'),
        "code_fence": "```\n" + gold + "\n```", "trailing_space": gold + "  ",
    }


def list_errors(items: list[str], rng: random.Random, other: str) -> dict[str, list[str]]:
    """Content errors of the target list (tag -> wrong list)."""
    out: dict[str, list[str]] = {"empty": []}
    if items:
        i = rng.randrange(len(items))
        out["drop"] = items[:i] + items[i + 1:]
        out["duplicate"] = items[:i + 1] + items[i:]
        out["replace_other"] = items[:i] + [other] + items[i + 1:]
        out["append_other"] = items + [other]
    if len(items) >= 2:
        i, j = sorted(rng.sample(range(len(items)), 2))
        swapped = list(items)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        out["swap"] = swapped
        out["reverse"] = items[::-1]
        first = [name.split()[0] for name in items]
        last = [name.split()[-1] for name in items]
        out["mixed_names"] = [f"{first[k]} {last[(k + 1) % len(items)]}" for k in range(len(items))]
    return out


def _targets(op: str, ref: dict[str, Any], rng: random.Random) -> dict[str, list[str]]:
    """Lists that are right for ``op`` (tag -> list); several for the random operations."""
    items = ref.get("items")
    if op == "sort":
        return {"full_name": sorted(items), "last_name": sort_by_last_name(items)}
    if op == "shuffle":
        shuffled = list(items)
        rng.shuffle(shuffled)
        return {"shuffled": shuffled, "identity": list(items), "rotated": items[1:] + items[:1]}
    if op == "insert_random":
        k = rng.randint(0, len(items))
        return {"insert": items[:k] + [ref["new"]] + items[k:], "insert_twice": [ref["new"]] + items + [ref["new"]]}
    if op == "remove_random":
        k = rng.randrange(len(items))
        return {"remove": items[:k] + items[k + 1:], "remove_and_dup": items[:k] + items[k + 1:] + items[:1]}
    if op == "replace_random":
        k = rng.randrange(len(items))
        return {"replace": items[:k] + [ref["new"]] + items[k + 1:],
                "replace_two": [ref["new"]] + items[1:-1] + [ref["new"]]}
    return {"answer": list(ref["answer"])}


def list_cases(op: str, n_docs: int, seed: int) -> Iterator[Case]:
    """Cases of one Waiting Line operation over ``n_docs`` generated documents."""
    spec = get_spec(f"waiting_line/{op}")
    docs = records_to_docs(spec, generate(spec.task_id, lengths=(3, 8), num_samples=n_docs, seed=seed))
    rng = random.Random(f"{op}-{seed}")
    for doc in docs:
        ref = json.loads(doc["reference"])
        base = ref.get("items") or ref["answer"]
        for target_tag, target in _targets(op, ref, rng).items():
            for tag, text in list_formats(target).items():
                yield spec.scorer, ref, text, f"{target_tag}/{tag}"
            truncated = _q(target)
            yield spec.scorer, ref, truncated[:rng.randrange(1, len(truncated))], f"{target_tag}/truncated"
        for tag, wrong in list_errors(list(ref.get("answer") or base), rng, "Zed Quincy").items():
            yield spec.scorer, ref, _q(wrong), f"error/{tag}"


def latin_cases(n_docs: int, seed: int) -> Iterator[Case]:
    """Latin square cases: the reference square in many layouts, and broken squares."""
    spec = get_spec("puzzles/latin_square_n4")
    docs = records_to_docs(spec, generate(spec.task_id, num_samples=n_docs, seed=seed))
    rng = random.Random(f"latin-{seed}")
    for doc in docs:
        ref = json.loads(doc["reference"])
        rows = [line.split(",") for line in doc["target"].split("\n")]
        sym = ref["symbols"]
        grid = "\n".join(",".join(r) for r in rows)
        i, j = rng.sample(range(4), 2)
        bad_cell = [list(r) for r in rows]
        bad_cell[i][j] = bad_cell[i][(j + 1) % 4]
        variants = {
            "gold": grid, "spaces": "\n".join(", ".join(r) for r in rows),
            "header_prose": "Sure, here is the Latin square:\n" + grid, "header_cols": "c1,c2,c3,c4\n" + grid,
            "prose_no_comma": "Here it is:\n" + grid, "extra_cell": "\n".join(",".join(r + [r[0]]) for r in rows),
            "missing_row": "\n".join(",".join(r) for r in rows[:3]), "extra_row": grid + "\n" + ",".join(rows[0]),
            "dup_row": "\n".join(",".join(r) for r in rows[:3] + rows[:1]), "transposed":
                "\n".join(",".join(c) for c in zip(*rows)), "bad_cell": "\n".join(",".join(r) for r in bad_cell),
            "blank_lines": "\n\n".join(",".join(r) for r in rows), "code_fence": "```csv\n" + grid + "\n```",
            "tabs": "\n".join(",\t".join(r) for r in rows), "semicolons": "\n".join(";".join(r) for r in rows),
            "other_symbols": "\n".join(",".join(r) for r in [[c.lower() for c in r] for r in rows]),
            "prose_after": grid + "\nEach row, and each column, has every symbol.",
            "row_of_symbols_first": ",".join(sym) + "\n" + grid, "crlf": "\r\n".join(",".join(r) for r in rows),
            "truncated": grid[:rng.randrange(1, len(grid))], "dup_cell_row": grid.replace(
                ",".join(rows[0]), ",".join(rows[0][:3] + rows[0][:1]), 1),
        }
        for tag, text in variants.items():
            yield spec.scorer, ref, text, tag


def sudoku_cases(n_docs: int, seed: int) -> Iterator[Case]:
    """Sudoku cases: the solution in many layouts, extra rows, prose and wrong grids."""
    spec = get_spec("puzzles/sudoku_n4")
    docs = records_to_docs(spec, generate(spec.task_id, num_samples=n_docs, seed=seed))
    rng = random.Random(f"sudoku-{seed}")
    for doc in docs:
        ref = json.loads(doc["reference"])
        rows = ref["solution"].split("\n")
        grid = "\n".join(rows)
        puzzle = doc["prompt"].split("Input:\n", 1)[1].split("\nOutput:", 1)[0]
        wrong = list(rows)
        r = rng.randrange(4)
        wrong[r] = wrong[r][1:] + wrong[r][0]
        fullwidth = str.maketrans("1234", "\uff11\uff12\uff13\uff14")
        variants = {
            "gold": grid, "spaces": "\n".join(" ".join(x) for x in rows),
            "commas": "\n".join(",".join(x) for x in rows),
            "tabs": "\n".join("\t".join(x) for x in rows), "trailing_dot": "\n".join(x + "." for x in rows),
            "brackets": "\n".join("[" + ", ".join(x) + "]" for x in rows),
            "pipes": "\n".join("|".join(x) for x in rows),
            "extra_rows": grid + "\n" + grid, "extra_row": grid + "\n" + rows[0], "partial_extra": grid + "\n12",
            "prose_digits_after": grid + "\nEach row has the digits 1-4 and 2x2 boxes.",
            "prose_before": "Output:\n" + grid, "prose_digit_line_before": "Solution for 4x4, 1 to 4:\n" + grid,
            "blank_lines": "\n\n".join(rows), "indented": "\n".join("  " + x for x in rows), "echo_input": puzzle,
            "wrong_row": "\n".join(wrong), "missing_row": "\n".join(rows[:3]), "one_line": "".join(rows),
            "code_fence": "```\n" + grid + "\n```", "fullwidth": grid.translate(fullwidth),
            "superscript": grid.replace("2", "\u00b2"), "truncated": grid[:rng.randrange(1, len(grid))],
            "crlf": "\r\n".join(rows), "leading_blank": "\n\n" + grid + "\n",
        }
        for tag, text in variants.items():
            yield spec.scorer, ref, text, tag


def all_cases() -> list[Case]:
    """Every case, in a fixed order (the order of the expected-values file)."""
    cases: list[Case] = []
    for op in LIST_TASKS:
        cases.extend(list_cases(op, 30, seed=7))
    cases.extend(latin_cases(60, seed=7))
    cases.extend(sudoku_cases(60, seed=7))
    return cases
