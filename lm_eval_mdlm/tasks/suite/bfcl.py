"""BFCL's AST checker (Python categories), as the official ``bfcl_eval/eval_checker/ast_eval/ast_checker.py``.

Why a port: BFCL scores a call by its function's documented parameter types, not by plain equality:
strings are compared case-insensitively without spaces and ``,./-_*^`` (so ``April 1, 2024`` equals
``april 1 2024``), an int is accepted for a ``float`` parameter, tuples compare as lists, dicts and
lists of dicts key by key, an omitted optional parameter must allow ``""``, and a value whose type is the
possible answers' rather than the documented one is a variable name compared as given. Parallel
categories match calls to the ground truth in any order; the others need exactly one call.
"""

from __future__ import annotations

import re
from typing import Any

PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool, "array": list,
                                 "tuple": list, "dict": dict, "any": str}


def standardize(text: str) -> str:
    """BFCL's ``standardize_string``: no spaces or ``,./-_*^``, lower case, single quotes as double."""
    return re.sub(r"[ ,./\-_*^]", "", text).lower().replace("'", '"')


def _std(value: Any) -> Any:
    return standardize(value) if isinstance(value, str) else value


def _answer_type(possible: list[Any]) -> type | None:
    return next((type(a) for a in possible if a != ""), None)


def _type_ok(value: Any, possible: list[Any], expected: type | None, nested: type | None) -> tuple[bool, bool]:
    """(type is valid, value is a variable name) as BFCL's ``type_checker`` decides (one nesting level)."""
    answer_type = _answer_type(possible)
    is_variable = answer_type is not None and answer_type != expected
    if type(value) is expected:
        if nested is None:
            return True, is_variable
        for item in possible:
            if not isinstance(item, list) or all(_type_ok(v, item, nested, None)[0] for v in value):
                return True, is_variable
        return False, is_variable
    return (answer_type is not None and type(value) is answer_type), True


def _dict_ok(value: dict[str, Any], possible: list[Any]) -> bool:
    for answer in possible:
        if answer == "":
            continue
        if all(k in answer and _std(v) in [_std(a) for a in answer[k]] for k, v in value.items()) and \
                all(k in value or "" in v for k, v in answer.items()):
            return True
    return False


def _value_ok(value: Any, possible: list[Any], expected: type | None, nested: type | None) -> bool:
    if expected is dict:
        return _dict_ok(value, possible)
    if expected is list and nested is dict:
        return any(len(value) == len(answer) and all(_dict_ok(v, [a]) for v, a in zip(value, answer))
                   for answer in possible if isinstance(answer, list))
    if expected is str:
        return standardize(value) in [standardize(a) for a in possible if isinstance(a, str)]
    if expected is list:
        # as BFCL: each possible answer is iterated, so an optional "" stands for the empty list
        return [_std(v) for v in value] in [[_std(a) for a in answer] for answer in possible
                                             if isinstance(answer, (list, str))]
    return value in possible


def call_ok(function: dict[str, Any], call: dict[str, Any], truth: dict[str, dict[str, list[Any]]]) -> bool:
    """BFCL's ``simple_function_checker``: one predicted call against one ground-truth entry."""
    (name, possible), = truth.items()
    if call["name"] != name:
        return False
    args, params = call["arguments"], function.get("parameters", {})
    properties = params.get("properties", {})
    if any(p not in args for p in params.get("required", [])):
        return False
    for param, value in args.items():
        if param not in properties or param not in possible:
            return False
        described = properties[param].get("type", "any")
        expected = PYTHON_TYPES.get(described)
        nested = PYTHON_TYPES.get(properties[param].get("items", {}).get("type", "")) \
            if described in ("array", "tuple") else None
        if described == "tuple" and isinstance(value, tuple):
            value = list(value)
        if described == "float" and type(value) is int:
            value = float(value)
        valid, is_variable = _type_ok(value, possible[param], expected, nested)
        if not valid:
            return False
        if not is_variable and not _value_ok(value, possible[param], expected, nested):
            return False
        if is_variable and value not in possible[param]:
            return False
    return all(p in args or "" in values for p, values in possible.items())


def calls_ok(functions: list[dict[str, Any]], calls: list[dict[str, Any]], truth: list[dict[str, Any]]) -> bool:
    """Every ground-truth call matched by its own predicted call (any order), and no extra call."""
    if len(calls) != len(truth):
        return False
    left = list(range(len(calls)))
    for expected in truth:
        name = next(iter(expected))
        function = next((f for f in functions if f.get("name") == name), {"name": name})
        hit = next((i for i in left if call_ok(function, calls[i], expected)), None)
        if hit is None:
            return False
        left.remove(hit)
    return True
