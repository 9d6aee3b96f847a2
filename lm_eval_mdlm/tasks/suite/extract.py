"""Strict answer extraction: one documented rule per answer format.

Why strict: the AFP/τ paper (arXiv 2601.15593) scored MDLMs with stricter matching than the model
cards, which often accept any number or letter found anywhere in a long answer. A diffusion model
that writes several candidate answers in parallel would be rewarded by such lenient matching, so
every rule here reads only an answer the model *marks* as final, and returns ``None`` (scored
wrong) when there is none. Each rule is a plain function ``str -> str | None``; :func:`as_filter`
turns one into an lm-eval filter (``function: custom`` with ``filter_fn``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

_NUMBER = r"-?[\d,]*\.?\d+"
_MARKED = re.compile(r"(?:answer is|answer:|####)\s*\$?\s*\(?(" + _NUMBER + r")", re.IGNORECASE)
_LETTER = re.compile(r"answer(?: is|:)\s*\(?([A-J])\)?(?![A-Za-z])", re.IGNORECASE)
_BOOL = re.compile(r"answer(?: is|:)\s*(true|false|yes|no)\b", re.IGNORECASE)
_FENCE = re.compile(r"```(?:python|py|sql|cpp|c\+\+)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def normalize_number(text: str) -> str | None:
    """'1,234.50' -> '1234.5', '-3.0' -> '-3'; ``None`` if it is not a number."""
    cleaned = text.replace(",", "").replace("$", "").strip().rstrip(".")
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return str(int(value)) if value.is_integer() else repr(value)


def final_number(text: str) -> str | None:
    """GSM8K-style: the number after the *last* 'The answer is', 'Answer:' or '####' marker."""
    hits = _MARKED.findall(text)
    return normalize_number(hits[-1]) if hits else None


def choice_letter(text: str) -> str | None:
    """Multiple choice: the letter A-J after the last 'answer is' / 'Answer:' ('(B)' or 'B'), upper case.

    A bare letter elsewhere in the text does not count."""
    hits = _LETTER.findall(text)
    return hits[-1].upper() if hits else None


def boolean(text: str) -> str | None:
    """True/False (yes/no) questions such as PrOntoQA: the word after the last answer marker."""
    hits = _BOOL.findall(text)
    if not hits:
        return None
    return "True" if hits[-1].lower() in ("true", "yes") else "False"


def boxed(text: str) -> str | None:
    """MATH/AIME/OlympiadBench: the content of the last ``\\boxed{...}`` (nested braces matched)."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    depth, i = 0, start + len("\\boxed")
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j].strip()
    return None  # unbalanced: the model never closed the box


def code_block(text: str) -> str | None:
    """Code tasks: the first fenced block (```python / ```sql / ```cpp / ```); unfenced text is not code."""
    match = _FENCE.search(text)
    return match.group(1).rstrip() + "\n" if match else None


def sudoku_grid(text: str) -> str | None:
    """Sudoku: exactly 81 digits 1-9 after the last 'Answer:' (separators ignored)."""
    at = text.lower().rfind("answer:")
    if at < 0:
        return None
    digits = re.sub(r"[\s,|\-+\[\]]", "", text[at + len("answer:"):])
    return digits if re.fullmatch(r"[1-9]{81}", digits) else None


def countdown_expression(text: str) -> str | None:
    """Countdown: the arithmetic expression after the last 'Answer:' (numbers, + - * / and parentheses)."""
    at = text.lower().rfind("answer:")
    if at < 0:
        return None
    line = text[at + len("answer:"):].strip().splitlines()[0] if text[at + len("answer:"):].strip() else ""
    expression = line.split("=")[0].strip()
    return expression if expression and re.fullmatch(r"[\d+\-*/() .]+", expression) else None


def countdown_correct(expression: str | None, numbers: list[int], target: int) -> bool:
    """Whether ``expression`` uses each given number at most once and evaluates to ``target``.

    Evaluated on the parsed syntax tree (no ``eval``): only numbers and + - * / are allowed."""
    if expression is None:
        return False
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return False
    used: list[int] = []

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            used.append(node.value)
            return float(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise ZeroDivisionError
            return {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right,
                    ast.Div: left / right if right else 0.0}[type(node.op)]
        raise ValueError(f"not allowed in a Countdown answer: {ast.dump(node)}")

    try:
        result = value(tree.body)
    except (ValueError, ZeroDivisionError):
        return False
    pool = list(numbers)
    for n in used:
        if n not in pool:
            return False
        pool.remove(n)
    return abs(result - target) < 1e-9


_TEXT_MARKER = re.compile(r"(?:the (?:final )?answer is|answer:)[ \t]*:?", re.IGNORECASE)
_CALL_FENCE = re.compile(r"```(?:json|python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def marked_text(text: str) -> str | None:
    """Short free-form answers (TriviaQA, DROP, BBH, CRUXEval ...): the rest of the line after the last
    'The answer is' / 'Answer:' marker, without surrounding markdown, quotes and a final period.

    Empty after the marker counts as no answer."""
    hits = list(_TEXT_MARKER.finditer(text))
    if not hits:
        return None
    rest = text[hits[-1].end():].strip()
    line = rest.splitlines()[0].strip() if rest else ""
    line = line.rstrip(".").strip("*_` ").rstrip(".").strip()
    if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'" and line.count(line[0]) == 2:
        line = line[1:-1].strip()
    return line or None


def marked_literal(text: str) -> str | None:
    """A Python value or call after the last 'The answer is' / 'Answer:' marker (CRUXEval), kept verbatim:
    quotes are part of a literal (``'abc'`` is a string, ``abc`` a name), so only surrounding markdown
    and a sentence's final period are removed, and the rest must parse as a Python expression."""
    hits = list(_TEXT_MARKER.finditer(text))
    if not hits:
        return None
    rest = text[hits[-1].end():].strip()
    line = rest.splitlines()[0].strip("*_` \t") if rest else ""
    line = line.removeprefix("assert ").strip()  # 'assert f(x) == y', the form CRUXEval's own prompts ask for
    for candidate in (line, line[:-1].rstrip("*_` ") if line.endswith(".") else None):
        if candidate:
            try:
                ast.parse(candidate, mode="eval")
            except SyntaxError:
                continue
            return candidate
    return None


def function_calls(text: str) -> str | None:
    """Function calling (BFCL): the calls in the last fenced block, or after the last 'Answer:', written
    as Python calls ``f(a=1)`` or a list ``[f(a=1), g(b="x")]``; returned as canonical JSON
    ``[{"name": ..., "arguments": {...}}]`` (keyword arguments with literal values only)."""
    import json

    blocks = _CALL_FENCE.findall(text)
    if blocks:
        source = blocks[-1].strip()
    else:
        at = text.lower().rfind("answer:")
        if at < 0:
            return None
        source = text[at + len("answer:"):].strip()
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    nodes = tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]
    calls = []
    for node in nodes:
        if not isinstance(node, ast.Call) or node.args:
            return None
        name = ast.unparse(node.func)
        try:
            arguments = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
        except (ValueError, SyntaxError):
            return None
        calls.append({"name": name, "arguments": arguments})
    return json.dumps(calls, sort_keys=True) if calls else None


def response(text: str) -> str | None:
    """Benchmarks that judge the whole response (IFEval's instruction checkers): the response itself,
    stripped; an empty response is no answer."""
    return text.strip() or None


EXTRACTORS: dict[str, Callable[[str], str | None]] = {
    "final_number": final_number, "choice_letter": choice_letter, "boolean": boolean, "boxed": boxed,
    "code_block": code_block, "sudoku_grid": sudoku_grid, "countdown_expression": countdown_expression,
    "marked_text": marked_text, "marked_literal": marked_literal, "function_calls": function_calls,
    "response": response,
}
MISSING = "[no marked answer]"  # what a response without a marked answer becomes: never equals a target


def as_filter(name: str) -> Callable[[list[list[str]], list[dict[str, Any]]], list[list[str]]]:
    """An lm-eval ``custom`` filter function applying extractor ``name`` to every response."""
    if name not in EXTRACTORS:
        raise ValueError(f"extractor {name!r} is unknown; valid extractors: {', '.join(EXTRACTORS)}.")
    extract = EXTRACTORS[name]

    def apply(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
        out = []
        for group in resps:
            values = [extract(r) for r in group]
            out.append([MISSING if v is None else v for v in values])
        return out

    apply.__name__ = f"strict_{name}"
    return apply
