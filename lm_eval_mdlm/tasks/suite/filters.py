"""One lm-eval filter function per extractor, importable by name from a task YAML.

Why a module of names: a YAML ``!function`` can only point at an attribute, not call
:func:`~lm_eval_mdlm.tasks.suite.extract.as_filter`, so every extractor gets its ``strict_<name>``
here. Use as ``filter_fn: !function lm_eval_mdlm.tasks.suite.filters.strict_final_number`` under a
``function: custom`` filter.
"""

from __future__ import annotations

from lm_eval_mdlm.tasks.suite.extract import EXTRACTORS, as_filter

strict_final_number = as_filter("final_number")
strict_choice_letter = as_filter("choice_letter")
strict_boolean = as_filter("boolean")
strict_boxed = as_filter("boxed")
strict_code_block = as_filter("code_block")
strict_sudoku_grid = as_filter("sudoku_grid")
strict_countdown_expression = as_filter("countdown_expression")
strict_marked_text = as_filter("marked_text")
strict_marked_literal = as_filter("marked_literal")
strict_function_calls = as_filter("function_calls")
strict_response = as_filter("response")

assert all(f"strict_{name}" in globals() for name in EXTRACTORS), "every extractor needs a strict_<name> filter"
