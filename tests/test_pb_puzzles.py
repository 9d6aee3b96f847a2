"""Latin square and Sudoku validators, and the solver behind the generator's uniqueness guarantee."""

from __future__ import annotations

import itertools

from lm_eval_mdlm.metrics import puzzles

SYMBOLS = ["H", "4", "C", "A"]
SQUARE = "H,4,A,C\n4,C,H,A\nC,A,4,H\nA,H,C,4"  # the paper's Table 3 example


def test_any_valid_latin_square_is_accepted():
    assert puzzles.is_latin_square(SQUARE, SYMBOLS) == 1.0
    cyclic = "\n".join(",".join(SYMBOLS[(r + c) % 4] for c in range(4)) for r in range(4))
    assert puzzles.is_latin_square(cyclic, SYMBOLS) == 1.0
    assert puzzles.is_latin_square("Here it is:\n" + SQUARE.replace(",", ", ") + "\n\nDone.", SYMBOLS) == 1.0


def test_invalid_latin_squares_are_rejected():
    assert puzzles.is_latin_square(SQUARE.replace("H,4,A,C", "H,H,A,C"), SYMBOLS) == 0.0  # repeated symbol
    assert puzzles.is_latin_square("H,4,A,C\nH,4,A,C\nC,A,4,H\nA,H,C,4", SYMBOLS) == 0.0  # repeated in a column
    assert puzzles.is_latin_square(SQUARE.replace("H", "X"), SYMBOLS) == 0.0  # foreign symbol
    assert puzzles.is_latin_square("H,4,A,C\n4,C,H,A\nC,A,4,H", SYMBOLS) == 0.0  # three rows
    assert puzzles.is_latin_square("H,4,A\n4,C,H\nC,A,4\nA,H,C", SYMBOLS) == 0.0  # three columns
    assert puzzles.is_latin_square("", SYMBOLS) == 0.0


PUZZLE = "0042\n2031\n4023\n3214"  # the paper's Table 3 example
SOLUTION = "1342\n2431\n4123\n3214"


def test_sudoku_must_equal_the_unique_solution():
    assert puzzles.sudoku_matches(SOLUTION, SOLUTION) == 1.0
    assert puzzles.sudoku_matches("1 3 4 2\n2,4,3,1\n4|1|2|3\n3214\n\n", SOLUTION) == 1.0
    assert puzzles.sudoku_matches(PUZZLE, SOLUTION) == 0.0  # echoes the input grid
    assert puzzles.sudoku_matches("1342\n2431\n4123", SOLUTION) == 0.0
    assert puzzles.sudoku_matches("2341\n2431\n4123\n3214", SOLUTION) == 0.0


def test_solver_finds_the_paper_example_and_counts_solutions():
    grid = puzzles.parse_grid(PUZZLE)
    assert puzzles.count_solutions(grid) == 1
    assert puzzles.format_grid(puzzles.solve(grid)) == SOLUTION
    empty = [[0] * 4 for _ in range(4)]
    assert puzzles.count_solutions(empty, limit=1000) == 288  # the number of 4x4 Sudoku grids
    assert puzzles.solve(empty) is None


def test_count_solutions_agrees_with_brute_force_on_a_sparse_grid():
    grid = puzzles.parse_grid("1000\n0000\n0000\n0002")
    rows = list(itertools.permutations(range(1, 5)))
    brute = sum(1 for candidate in itertools.product(rows, repeat=4)
                if _fits(grid, candidate) and _valid(candidate))
    assert brute > 1
    assert puzzles.count_solutions(grid, limit=1000) == brute


def _fits(grid, rows):
    return all(g in (0, v) for grid_row, row in zip(grid, rows) for g, v in zip(grid_row, row))


def _valid(rows):
    cols = list(zip(*rows))
    boxes = [[rows[r][c] for r in (br, br + 1) for c in (bc, bc + 1)] for br in (0, 2) for bc in (0, 2)]
    return all(sorted(x) == [1, 2, 3, 4] for x in list(cols) + boxes)
