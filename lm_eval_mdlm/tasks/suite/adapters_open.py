"""Document adapters for open answers: numbers, math, short text, booleans, code, function calls, puzzles.

Same contract as :mod:`.adapters` (``mdlm_prompt``, ``mdlm_target``, ``mdlm_answers``). Code adapters
store what the scorer needs to run the answer (test code, stdin/stdout cases) as a JSON object in
``mdlm_answers``, so scoring never re-reads the dataset.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import datasets

from lm_eval_mdlm.tasks.suite import korbench as kor
from lm_eval_mdlm.tasks.suite.adapters import (BOOL_TAIL, BOXED_TAIL, CODE_TAIL, NUMBER_TAIL, TEXT_TAIL, Row,
                                               _adapt)
from lm_eval_mdlm.tasks.suite.extract import normalize_number
from lm_eval_mdlm.tasks.suite.task import SuiteDataError


# ---- numbers and math ------------------------------------------------------------------------------
@_adapt
def gsm8k(doc: dict[str, Any]) -> Row:
    """openai/gsm8k: question, answer ('... #### 72')."""
    return f"{doc['question'].strip()}\n\n{NUMBER_TAIL}", [doc["answer"].split("####")[-1].strip()]


def gsm_plus(dataset: datasets.Dataset) -> datasets.Dataset:
    """qintongli/GSM-Plus: question, solution, answer, perturbation_type.

    The "critical thinking" perturbation has no numeric answer (``answer`` is ``'None'``: the question
    lacks a premise); those rows are dropped, as is usual when GSM-Plus is scored by the final number."""
    return _gsm_plus(dataset.filter(lambda d: normalize_number(str(d["answer"])) is not None))


@_adapt
def _gsm_plus(doc: dict[str, Any]) -> Row:
    return f"{doc['question'].strip()}\n\n{NUMBER_TAIL}", [str(doc["answer"]).strip()]


@_adapt
def asdiv(doc: dict[str, Any]) -> Row:
    """EleutherAI/asdiv: body, question, answer ('9 (apples)')."""
    return f"{doc['body'].strip()} {doc['question'].strip()}\n\n{NUMBER_TAIL}", [doc["answer"].split(" (")[0]]


def hendrycks_math(dataset: datasets.Dataset) -> datasets.Dataset:
    """EleutherAI/hendrycks_math: lm-eval's own answer extraction from the solution, then our prompt."""
    from lm_eval.tasks.hendrycks_math import utils as math_utils

    return _math(math_utils.process_docs(dataset))


@_adapt
def _math(doc: dict[str, Any]) -> Row:
    return f"{doc['problem'].strip()}\n\n{BOXED_TAIL}", [str(doc["answer"])]


@_adapt
def math_problem(doc: dict[str, Any]) -> Row:
    """MATH-500, AIME 2024/2025, Omni-MATH, AMC23: problem (or Problem/question), answer (or Answer)."""
    problem = doc.get("problem") or doc.get("Problem") or doc.get("question")
    answer = doc.get("answer") if doc.get("answer") is not None else doc.get("Answer")
    return f"{str(problem).strip()}\n\n{BOXED_TAIL}", [str(answer).strip()]


@_adapt
def olympiadbench(doc: dict[str, Any]) -> Row:
    """Hothan/OlympiadBench (OE_TO_maths_en_COMP): question, final_answer (list of '$...$'; some copies store
    the list as its string)."""
    final = doc["final_answer"]
    final = ast.literal_eval(final) if isinstance(final, str) and final.lstrip().startswith("[") else final
    answers = [str(a).strip().strip("$").strip() for a in ([final] if isinstance(final, str) else final or [])]
    return f"{doc['question'].strip()}\n\n{BOXED_TAIL}", answers


# ---- short text and booleans -----------------------------------------------------------------------
@_adapt
def triviaqa(doc: dict[str, Any]) -> Row:
    """mandarjoshi/trivia_qa rc.nocontext: question, answer {value, aliases}."""
    answers = [doc["answer"]["value"], *doc["answer"]["aliases"]]
    return f"Question: {doc['question'].strip()}\n\n{TEXT_TAIL}", answers


@_adapt
def nq_open(doc: dict[str, Any]) -> Row:
    """google-research-datasets/nq_open: question, answer (list)."""
    return f"Question: {doc['question'].strip()}?\n\n{TEXT_TAIL}", list(doc["answer"])


@_adapt
def squadv2(doc: dict[str, Any]) -> Row:
    """SQuAD 2.0: context, question, answers {text}; no answer = 'unanswerable'."""
    answers = list(dict.fromkeys(doc["answers"]["text"])) or ["unanswerable"]
    prompt = (f"{doc['context'].strip()}\n\nQuestion: {doc['question'].strip()}\n\nAnswer with a span of the text, or "
              f"with 'unanswerable' if the text does not answer the question. {TEXT_TAIL}")
    return prompt, answers


def drop(dataset: datasets.Dataset) -> datasets.Dataset:
    """EleutherAI/drop through lm-eval's own answer flattening (answers: tuples of spans)."""
    from lm_eval.tasks.drop import utils as drop_utils

    return _drop(drop_utils.process_docs(dataset))


@_adapt
def _drop(doc: dict[str, Any]) -> Row:
    answers = [", ".join(a) for a in doc["answers"] if a and any(a)]
    return f"{doc['passage'].strip()}\n\nQuestion: {doc['question'].strip()}\n\n{TEXT_TAIL}", answers


@_adapt
def bbh(doc: dict[str, Any]) -> Row:
    """lukaemon/bbh: input, target ('(A)', 'True', 'valid', '[1, 2]', ...)."""
    return f"{doc['input'].strip()}\n\nThink step by step. {TEXT_TAIL}", [doc["target"].strip()]


@_adapt
def boolq(doc: dict[str, Any]) -> Row:
    """super_glue boolq: passage, question, label (1 = yes)."""
    return f"{doc['passage'].strip()}\n\nQuestion: {doc['question'].strip()}?\n\n{BOOL_TAIL}", \
        ["True" if int(doc["label"]) == 1 else "False"]


@_adapt
def prontoqa(doc: dict[str, Any]) -> Row:
    """renma/ProntoQA: context, question, options ['A) True', 'B) False'], answer ('A'/'B')."""
    options = {o.split(")")[0].strip(): o.split(")", 1)[1].strip() for o in doc["options"]}
    answer = options.get(str(doc["answer"]).strip(), str(doc["answer"]).strip())
    return f"{doc['context'].strip()}\n\n{doc['question'].strip()}\n\n{BOOL_TAIL}", [answer]


@_adapt
def korbench(doc: dict[str, Any]) -> Row:
    """KOR-Bench (via :func:`.korbench.load`): category, rule_id, rule_content, question, answer ('[[...]]')."""
    rule = str(doc["rule_content"]).strip()
    for field, value in (("rule_content", rule), ("answer", str(doc["answer"]).strip())):
        if not value:
            raise SuiteDataError(f"korbench: question idx={doc.get('idx')!r} has an empty field {field!r}.")
    prompt = kor.prompt(doc["category"], rule, doc["question"])
    return prompt, {"answer": str(doc["answer"]), "category": doc["category"], "rule_id": str(doc["rule_id"])}


# ---- puzzles (generated offline by .loaders) --------------------------------------------------------
@_adapt
def sudoku(doc: dict[str, Any]) -> Row:
    """Our generated 9x9 Sudoku: puzzle (81 chars, 0 = empty), solution; any valid completion scores."""
    rows = "\n".join(" ".join(doc["puzzle"][r * 9:r * 9 + 9]) for r in range(9))
    prompt = (f"Solve this Sudoku (0 marks an empty cell). Every row, column and 3x3 box must hold 1-9 once.\n\n{rows}"
              "\n\nEnd your response with 'Answer:' followed by the 9 rows of the solved grid.")
    return prompt, {"puzzle": doc["puzzle"], "solution": doc["solution"]}


@_adapt
def countdown(doc: dict[str, Any]) -> Row:
    """Our generated Countdown: numbers, target; any correct expression scores."""
    numbers = ", ".join(str(n) for n in doc["numbers"])
    prompt = (f"Using the numbers {numbers} (each at most once) and + - * / with parentheses, write an expression "
              f"equal to {doc['target']}. End your response with 'Answer:' followed by the expression.")
    return prompt, {"numbers": list(doc["numbers"]), "target": int(doc["target"]), "example": doc["expression"]}


# ---- code ---------------------------------------------------------------------------------------------
def _imports(prompt: str) -> str:
    return "".join(line + "\n" for line in prompt.splitlines() if re.match(r"(import|from)\s", line))


@_adapt
def humaneval(doc: dict[str, Any]) -> Row:
    """openai_humaneval / evalplus humanevalplus: prompt, test, entry_point."""
    prompt = f"Complete this Python function.\n\n```python\n{doc['prompt']}```\n\n{CODE_TAIL.format(lang='python')}"
    return prompt, {"prefix": _imports(doc["prompt"]), "suffix": f"\n{doc['test']}\ncheck({doc['entry_point']})\n"}


@_adapt
def mbpp(doc: dict[str, Any]) -> Row:
    """mbpp (full) / evalplus mbppplus: text or prompt, test_list (+ test, test_imports for plus)."""
    task = doc.get("prompt") or doc.get("text")
    shown = "\n".join(doc["test_list"][:3])
    prompt = f"{task.strip()}\nYour code should pass these tests:\n\n{shown}\n\n{CODE_TAIL.format(lang='python')}"
    setup = doc.get("test_setup_code") or "\n".join(doc.get("test_imports") or [])
    tests = doc.get("test") or "\n".join(doc["test_list"])
    return prompt, {"prefix": setup + "\n", "suffix": f"\n{tests}\n"}


@_adapt
def cruxeval_output(doc: dict[str, Any]) -> Row:
    """cruxeval-org/cruxeval: code, input, output (Python literals); predict the output of ``f(input)``."""
    prompt = (f"```python\n{doc['code']}\n```\n\nWhat does f({doc['input']}) return? Think step by step, then end "
              "your response with \"The answer is <value>.\" giving the value as a Python literal.")
    return prompt, {"mode": "output", "program": doc["code"], "input": doc["input"], "output": doc["output"]}


@_adapt
def cruxeval_input(doc: dict[str, Any]) -> Row:
    """cruxeval-org/cruxeval: predict an input for which f returns the given output."""
    prompt = (f"```python\n{doc['code']}\n```\n\nGive an input such that f(<input>) == {doc['output']}. Think step by "
              "step, then end your response with \"The answer is f(<input>).\" writing the arguments as Python "
              "literals.")
    return prompt, {"mode": "input", "program": doc["code"], "input": doc["input"], "output": doc["output"]}


@_adapt
def bigcodebench(doc: dict[str, Any]) -> Row:
    """bigcode/bigcodebench: instruct_prompt, test (a unittest TestCases class)."""
    runner = ("\nimport unittest as _u\n_r = _u.TextTestRunner(verbosity=0).run("
              "_u.defaultTestLoader.loadTestsFromTestCase(TestCases))\nassert _r.wasSuccessful()\n")
    return f"{doc['instruct_prompt'].strip()}\n\n{CODE_TAIL.format(lang='python')}", \
        {"prefix": "", "suffix": f"\n{doc['test']}\n{runner}"}


@_adapt
def livecodebench(doc: dict[str, Any]) -> Row:
    """livecodebench/code_generation_lite (stdin problems, tests decoded by .loaders)."""
    prompt = (f"{doc['question_content'].strip()}\n\nRead the input from standard input and write the answer to "
              f"standard output. {CODE_TAIL.format(lang='python')}")
    return prompt, {"stdio": json.loads(doc["tests"])}


@_adapt
def multipl_e_cpp(doc: dict[str, Any]) -> Row:
    """nuprl/MultiPL-E humaneval-cpp: prompt (includes, comment, signature ending in ``{``), tests.

    MultiPL-E completes the body: its program is ``prompt + completion + tests``, and ``tests`` starts with
    the ``}`` closing the prompt's function. The suite asks for the whole function, so the scorer joins
    the prompt's ``#include`` lines, the answer and ``tests`` without that ``}``."""
    tests = doc["tests"]
    if not tests.lstrip().startswith("}"):
        raise SuiteDataError("multipl_e_cpp: field 'tests' should start with the '}' closing the prompt's "
                             f"function (MultiPL-E's layout), got {tests[:40]!r}.")
    headers = "".join(line + "\n" for line in doc["prompt"].splitlines() if line.startswith("#include"))
    prompt = f"Complete this C++ function.\n\n```cpp\n{doc['prompt']}```\n\n{CODE_TAIL.format(lang='cpp')}"
    return prompt, {"prefix": headers, "suffix": "\n" + tests.lstrip()[1:], "language": "cpp"}


@_adapt
def spider(doc: dict[str, Any]) -> Row:
    """xlangai/spider with the database schema attached by .loaders: question, query, db_path, schema."""
    prompt = (f"SQLite database schema:\n{doc['schema']}\n\nQuestion: {doc['question'].strip()}\n\n"
              f"{CODE_TAIL.format(lang='sql')}")
    return prompt, {"query": doc["query"], "db_path": doc["db_path"]}


@_adapt
def bfcl(doc: dict[str, Any]) -> Row:
    """BFCL v3 (via .loaders): question (chat turns, JSON), functions (JSON), ground_truth (JSON)."""
    turns = json.loads(doc["question"])
    user = "\n".join(t["content"] for turn in turns for t in (turn if isinstance(turn, list) else [turn])
                     if t.get("role") == "user")
    prompt = (f"You can call these functions:\n{doc['functions']}\n\nRequest: {user}\n\nRespond with the call(s) only, "
              "as a Python list in one ```python block, e.g. [func(arg=value)].")
    return prompt, {"ground_truth": json.loads(doc["ground_truth"]), "functions": json.loads(doc["functions"])}


@_adapt
def ifeval(doc: dict[str, Any]) -> Row:
    """google/IFEval: prompt, instruction_id_list, kwargs (checked on the whole response by lm-eval's checker)."""
    return doc["prompt"], {"instruction_id_list": list(doc["instruction_id_list"])}
