"""Turn ParallelBench records (official or generated) into the documents our lm-eval tasks read.

A *record* has the official release's schema: ``{"input": {...fields, "icl_examples": [...]},
"answer": str | {...}, "metadata": {...}}``; the hub copy stores ``input``/``answer``/``metadata`` as
JSON strings, which :func:`decode_record` undoes. Generated data is written in the same schema, so
official and generated data share one code path from here on.

A *document* is flat, and the same for every task:

* ``prompt``: the user message (the official prompt formatted with the input);
* ``target``: a correct answer, for ``doc_to_target`` and for reading logs;
* ``shots``: the one-shot examples as ``[{"prompt", "target"}]`` (the official user/assistant turn);
* ``reference``: JSON with what the scorer needs (see :mod:`lm_eval_mdlm.tasks.scoring`).

Sort is the one place where we do not trust the official labels: they (and the one-shot answers)
are sorted by the whole name although the prompt asks for the last name. With ``scoring:
corrected`` our target and one-shot answer are the last-name order and the scorer applies the
prompt's rule; with ``scoring: official`` (the default) they are the record's own label, as in the
official runs, and the label is what the answer is scored against.
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Iterable
from typing import Any

from lm_eval_mdlm.metrics.lists import format_list, parse_list, sort_by_last_name
from lm_eval_mdlm.metrics.puzzles import format_grid, parse_grid
from lm_eval_mdlm.tasks.specs import TaskSpec


class RecordError(ValueError):
    """A record does not have the ParallelBench schema this task needs."""


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def decode_record(row: dict[str, Any], json_columns: bool = False) -> dict[str, Any]:
    """The record's input/answer/metadata; with ``json_columns`` (the hub schema, where they are
    JSON-encoded strings) each string is decoded, falling back to the raw string as the official
    hub loader does."""
    record = {key: _maybe_json(row.get(key)) if json_columns else copy.deepcopy(row.get(key))
              for key in ("input", "answer", "metadata")}
    if not isinstance(record["input"], dict):
        raise RecordError(f"record has no 'input' object (got {type(record['input']).__name__}); columns: "
                          f"{sorted(row)}. Expected the ParallelBench schema input/answer/metadata.")
    record["input"] = _normalize_input(dict(record["input"]))
    for example in record["input"].get("icl_examples") or []:
        example["input"] = _normalize_input(dict(example["input"]))
    return record


def _normalize_input(fields: dict[str, Any]) -> dict[str, Any]:
    # The newer hub release writes Sudoku as {"puzzle": "_41_\n..."}; the paper's prompt wants 0s.
    if "sudoku" not in fields and isinstance(fields.get("puzzle"), str):
        fields["sudoku"] = fields["puzzle"].replace("_", "0")
    return fields


def _answer_text(answer: Any) -> str:
    """The answer as the official release prints it (``answer`` or ``answer["example"]``)."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, dict) and isinstance(answer.get("example"), str):
        return answer["example"]
    raise RecordError(f"answer {answer!r} has no text; expected a string or an object with 'example'.")


def _items(fields: dict[str, Any]) -> list[str]:
    items = parse_list(str(fields.get("context", "")))
    if items is None:
        raise RecordError(f"input context {fields.get('context')!r} is not a bracketed list.")
    return items


def _reference(spec: TaskSpec, fields: dict[str, Any], answer: Any,
               scoring: str = "official") -> tuple[dict[str, Any], str]:
    """(what the scorer needs, a correct answer text under ``scoring``) for one input."""
    scorer = spec.scorer
    if scorer == "exact":
        text = _answer_text(answer)
        expected = parse_list(text)
        if expected is None:
            raise RecordError(f"{spec.task_id}: answer {text!r} is not a bracketed list.")
        return {"answer": expected, "label": text}, text
    if scorer == "sort":
        items, label = _items(fields), _answer_text(answer)
        if scoring == "official":
            return {"items": items, "label": label}, label
        return {"items": items, "label": label}, format_list(sort_by_last_name(items), quoted='"' in fields["context"])
    if scorer in ("shuffle", "remove_random"):
        return {"items": _items(fields)}, _answer_text(answer)
    if scorer in ("insert_random", "replace_random"):
        return {"items": _items(fields), "new": str(fields["word"])}, _answer_text(answer)
    if scorer == "latin_square":
        symbols = [s.strip() for s in str(fields["symbols"]).strip("[]").split(",")]
        return {"symbols": symbols}, _answer_text(answer)
    if scorer == "sudoku":
        solution = _answer_text(answer).strip()
        grid = parse_grid(solution, len(solution.split()))
        if grid is None:
            raise RecordError(f"{spec.task_id}: solution {solution!r} is not a grid of digit rows.")
        return {"solution": format_grid(grid)}, format_grid(grid)
    if scorer == "summarization":
        return {"summary": answer["summary"]}, answer["summary"]
    if scorer == "paraphrasing":
        source = answer.get("text", fields["text"]) if isinstance(answer, dict) else fields["text"]
        examples = answer.get("examples") if isinstance(answer, dict) else None
        if isinstance(examples, str):
            examples = ast.literal_eval(examples)  # official: a Python-literal list in a string
        return {"source": source}, (examples or [source])[0]
    if scorer == "words_to_sentence":
        words = answer["words"] if isinstance(answer, dict) and "words" in answer else \
            [w.strip() for w in str(fields["words"]).replace(", and ", ", ").split(",")]
        example = answer.get("example", "") if isinstance(answer, dict) else ""
        return {"words": list(words)}, example or ""
    raise RecordError(f"{spec.task_id}: no reference builder for scorer {scorer!r}.")


def record_to_doc(spec: TaskSpec, row: dict[str, Any], index: int, json_columns: bool = False,
                  scoring: str = "official") -> dict[str, Any]:
    """The flat lm-eval document of one record (see the module docstring)."""
    try:
        record = decode_record(row, json_columns)
        fields = record["input"]
        reference, target = _reference(spec, fields, record["answer"], scoring)
        shots = []
        for example in (fields.get("icl_examples") or [])[:max(spec.shots, 0)]:
            _, shot_target = _reference(spec, example["input"], example["answer"], scoring)
            shots.append({"prompt": spec.render(example["input"]), "target": shot_target})
        if len(shots) < spec.shots:
            raise RecordError(f"{spec.task_id} is {spec.shots}-shot but the record has {len(shots)} "
                              "icl_examples.")
        prompt = spec.render({k: v for k, v in fields.items() if k != "icl_examples"})
    except (KeyError, TypeError, ValueError, SyntaxError) as exc:
        raise RecordError(f"{spec.task_id}: record {index} does not fit the ParallelBench schema: {exc}") from exc
    return {"doc_index": index, "prompt": prompt, "target": target, "shots": shots,
            "reference": json.dumps(reference, ensure_ascii=False),
            "metadata": json.dumps(record.get("metadata") or {}, ensure_ascii=False)}


def records_to_docs(spec: TaskSpec, rows: Iterable[dict[str, Any]], json_columns: bool = False,
                    scoring: str = "official") -> list[dict[str, Any]]:
    """Documents of all records, in order (``json_columns``: rows in the hub's JSON-string schema;
    ``scoring``: the task's scoring mode, which picks Sort's target and one-shot answer)."""
    return [record_to_doc(spec, row, i, json_columns, scoring) for i, row in enumerate(rows)]
