"""Puzzle validators for ParallelBench's Latin Square and Sudoku: the ``scoring: corrected`` rules.

(Paper §5 "Puzzles", Table 3; the official rules, quirks included, are in
:mod:`lm_eval_mdlm.metrics.official`.)

* Latin square: any n x n grid over the given n symbols in which every row and every column holds
  each symbol once is correct (many solutions, C(Y|X) > 0 in the paper's terms). The answer is CSV,
  one row per line. The grid starts at the first line that is a row (exactly n comma-separated
  cells, each one of the symbols), so prose or a ``c1,c2,c3,c4`` header above it is skipped; the
  n-1 non-blank lines after it must be rows too; lines after the grid are ignored.
* Sudoku (4 x 4, 2 x 2 boxes): the answer must equal the puzzle's unique solution (C(Y|X) = 0).
  Rows are the lines made only of digits once spaces, tabs, commas, ``|``, brackets and a final
  ``.`` are removed; there must be exactly n of them (a grid followed by more digit rows is not an
  exact match), each of n digits. Prose lines, even with digits, are not rows.

:func:`count_solutions` is also what the offline generator uses to guarantee a unique solution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Grid = list[list[int]]


def parse_latin_square(text: str, symbols: Sequence[str]) -> list[list[str]] | None:
    """The n x n grid of ``text`` (n = len(symbols), see the module docstring); None if there is none."""
    wanted, size = set(symbols), len(symbols)
    lines = [[cell.strip() for cell in line.split(",")] for line in text.splitlines() if line.strip()]

    def is_row(cells: list[str]) -> bool:
        return len(cells) == size and set(cells) <= wanted

    start = next((i for i, cells in enumerate(lines) if is_row(cells)), None)
    grid = lines[start:start + size] if start is not None else []
    return grid if len(grid) == size and all(is_row(cells) for cells in grid) else None


def is_latin_square(text: str, symbols: Sequence[str]) -> float:
    """1.0 if ``text`` is an n x n Latin square over exactly ``symbols`` (n = len(symbols))."""
    wanted = sorted(symbols)
    rows = parse_latin_square(text, wanted)
    if rows is None:
        return 0.0
    columns = [list(column) for column in zip(*rows)]
    return float(all(sorted(line) == wanted for line in rows + columns))


_SEPARATORS = str.maketrans("", "", " \t,|[]")


def parse_grid(text: str, size: int = 4) -> Grid | None:
    """The digit rows of ``text`` (module docstring) if there are exactly ``size`` of ``size`` digits."""
    rows = []
    for line in text.splitlines():
        cells = line.translate(_SEPARATORS).strip().removesuffix(".")
        if cells.isdecimal():
            rows.append([int(c) for c in cells])
    return rows if len(rows) == size and all(len(row) == size for row in rows) else None


def format_grid(grid: Grid) -> str:
    """Rows of digits, one line each (``0`` = empty), as the benchmark prints Sudoku grids."""
    return "\n".join("".join(str(v) for v in row) for row in grid)


def sudoku_matches(text: str, solution: str) -> float:
    """1.0 if the grid in ``text`` equals ``solution`` (given in the same digit-rows format)."""
    expected = parse_grid(solution, len(solution.split()))
    if expected is None:
        raise ValueError(f"sudoku solution {solution!r} is not a grid of digit rows; expected e.g. "
                         "'1342\\n2431\\n4123\\n3214'.")
    return float(parse_grid(text, len(expected)) == expected)


def _box_shape(size: int) -> tuple[int, int]:
    root = math.isqrt(size)
    if root * root != size:
        raise ValueError(f"sudoku size {size} is not a square number; use 4 (2x2 boxes) or 9 (3x3 boxes).")
    return root, root


def _candidates(grid: Grid, r: int, c: int) -> list[int]:
    size = len(grid)
    bh, bw = _box_shape(size)
    used = set(grid[r]) | {grid[i][c] for i in range(size)}
    r0, c0 = r - r % bh, c - c % bw
    used |= {grid[i][j] for i in range(r0, r0 + bh) for j in range(c0, c0 + bw)}
    return [v for v in range(1, size + 1) if v not in used]


def count_solutions(grid: Grid, limit: int = 2) -> int:
    """Number of completions of ``grid`` (0 = empty cell), counting no further than ``limit``."""
    grid = [row[:] for row in grid]
    empty = [(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == 0]

    def search(k: int) -> int:
        if k == len(empty):
            return 1
        r, c = empty[k]
        found = 0
        for value in _candidates(grid, r, c):
            grid[r][c] = value
            found += search(k + 1)
            grid[r][c] = 0
            if found >= limit:
                break
        return found

    return search(0)


def solve(grid: Grid) -> Grid | None:
    """The unique completion of ``grid``; None if it has no solution or more than one."""
    if count_solutions(grid) != 1:
        return None
    grid = [row[:] for row in grid]
    for r, row in enumerate(grid):
        for c, value in enumerate(row):
            if value == 0:
                for candidate in _candidates(grid, r, c):
                    grid[r][c] = candidate
                    if count_solutions(grid, limit=1) == 1:
                        break
    return grid
