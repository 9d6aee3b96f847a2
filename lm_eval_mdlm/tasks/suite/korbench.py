"""KOR-Bench (knowledge-orthogonal reasoning): the release's files, its zero-shot prompt and its scoring rules.

Why a module of its own: KOR-Bench is not one hub table. The official release keeps, per category
(cipher, counterfactual, logic, operation, puzzle), the rules in ``<category>/rule.jsonl`` (``idx``,
``rule_content``) and the questions in ``<category>/sample.jsonl`` (``idx``, ``rule_id``, ``question``,
``answer`` written as ``[[...]]``); a question is asked together with its rule. Answers are read from the
first ``[[...]]`` of the response and compared with the category's rule of the official evaluation
(``evaluate_response_vs_answer`` of the KOR-Bench code, as shipped in OpenCompass): cleaned equality,
order-free comparison of ``;``- or ``,``-separated parts, letters only, and so on. Not ported: the sympy
comparison of LaTeX expressions for a few operation questions (they fall back to string equality, as the
official code does when sympy cannot parse them).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import datasets

from lm_eval_mdlm.tasks.suite.extract import MISSING
from lm_eval_mdlm.tasks.suite.task import SuiteDataError

CATEGORIES = ("cipher", "counterfactual", "logic", "operation", "puzzle")
_ROLE = {  # category -> (who the assistant is, its three instructions, the rule's heading)
    "cipher": ("an intelligent assistant that specializes in encryption and decryption tasks. Below are the rules "
               "for a specific cipher. When responding, please ensure that your output adheres to the specified "
               "encryption and decryption rules and format.",
               ["Identify the relevant properties and objects specified in the rule, including the plaintext, "
                "keyword, and ciphertext.",
                "Follow the specified encryption or decryption operations precisely as described in the rules.",
                "Ensure your output is formatted according to the specified notation and symbols."], "Cipher Rule"),
    "counterfactual": ("an advanced assistant with expertise in storytelling and rule-based reasoning. Your task is "
                       "to carefully analyze the provided story, which includes specific rules and details, and use "
                       "this information to accurately answer related questions.",
                       ["Thoroughly review the story to identify and understand the relevant details and rules.",
                        "Use the context provided by the story to offer precise and insightful answers.",
                        "Ensure your responses align with the rules and information given in the story."],
                       "Story Rule"),
    "logic": ("an intelligent assistant that helps with various logical reasoning tasks. Below is a custom-defined "
              "rule for a specific type of logic. When responding, please ensure that your output adheres to the "
              "specified logical rules and format.",
              ["Identify the relevant properties and objects as specified in the rule.",
               "Apply the given logical operations or reasoning patterns.",
               "Ensure your output is formatted according to the specified notation and symbols."], "Logic Rule"),
    "operation": ("an intelligent assistant specializing in evaluating custom operations. Below is a specific rule "
                  "defined for a custom operation. Your task is to apply this rule accurately to the provided "
                  "question.",
                  ["Carefully read and understand the definitions of the new operations in the rule.",
                   "If the question does not specifically ask for it, your answer should be a number or a group of "
                   "numbers.",
                   "Double-check your final answer to ensure it follows the rule accurately."], "Operation Rule"),
    "puzzle": ("an intelligent assistant specializing in solving custom puzzle problems. Below is a specific rule "
               "defined for a custom puzzle. Your task is to apply this rule accurately to the provided question.",
               ["Thoroughly understand the rule provided. If needed, break down the rule into simpler components "
                "or steps.",
                "Apply the rule carefully to address the question presented.",
                "Verify your answer to ensure it aligns with the rule and the context of the puzzle."],
               "Puzzle Rule"),
}


def prompt(category: str, rule: str, question: str) -> str:
    """KOR-Bench's zero-shot prompt of ``category`` (the answer format is asked for in the question)."""
    who, steps, heading = _ROLE[category]
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    return (f"You are {who}\n\n### Instructions:\n\n{numbered}\n\n### {heading}:\n\n{rule}\n\n### Question:\n"
            f"{question}\n\n### Answer:\n")


# ---- data ----------------------------------------------------------------------------------------------
def _records(folder: Path, stem: str) -> list[dict[str, Any]]:
    for path in (folder / f"{stem}.json", folder / f"{stem}.jsonl"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            return json.loads(text) if path.suffix == ".json" else [json.loads(x) for x in text.splitlines() if x]
    raise SuiteDataError(f"korbench: {folder / stem}.jsonl (or .json) is missing; korbench_dir must be the "
                         "release's data/ folder with one folder per category: " + ", ".join(CATEGORIES) + ".")


def load(korbench_dir: str | None = None, categories: list[str] | None = None, **_: Any) -> dict[str, datasets.Dataset]:
    """The release's questions of ``categories`` (default: all five), each joined with its rule.

    The folder comes from ``--metadata '{"korbench_dir": ...}'`` or ``$KORBENCH_DIR``. A question whose
    ``rule_id`` has no rule, or a rule without ``rule_content``, is an error naming the field."""
    root = korbench_dir or os.environ.get("KORBENCH_DIR")
    if not root or not Path(root).is_dir():
        raise SuiteDataError("mdlm_suite_korbench needs the KOR-Bench release (not on the Hugging Face hub): set "
                             "--metadata '{\"korbench_dir\": \"<KOR-Bench>/data\"}' or $KORBENCH_DIR to its data/ "
                             "folder (<category>/rule.jsonl and <category>/sample.jsonl).")
    rows = []
    for category in categories or CATEGORIES:
        rules = {str(r["idx"]): r for r in _records(Path(root) / category, "rule")}
        for sample in _records(Path(root) / category, "sample"):
            rule = rules.get(str(sample.get("rule_id")))
            if rule is None or not str(rule.get("rule_content") or "").strip():
                raise SuiteDataError(f"korbench: {category} question idx={sample.get('idx')!r} has rule_id="
                                     f"{sample.get('rule_id')!r} but {category}/rule has no such idx with a "
                                     "non-empty field 'rule_content'.")
            rows.append({"category": category, "idx": str(sample["idx"]), "rule_id": str(sample["rule_id"]),
                         "rule_content": rule["rule_content"], "question": sample["question"],
                         "answer": str(sample["answer"])})
    return {"test": datasets.Dataset.from_list(rows)}


# ---- scoring (the official rules) ------------------------------------------------------------------------
def brackets(text: str, level: str = "basic") -> str | None:
    """The first ``[[...]]`` (else ``$\\boxed{...}$``, else ``[...]``) of ``text``, cleaned as ``level`` says,
    returned as ``[[...]]``; ``None`` when there is none."""
    for pattern in (r"\[\[\s*(.*?)\s*\]\]", r"\$\\boxed\{(.*?)\}\$", r"\[\s*(.*?)\s*\]"):
        matches = re.findall(pattern, text, re.DOTALL)
        if matches:
            break
    else:
        return None
    found = matches[0].strip()
    if level == "clean":
        found = re.sub(r'["\n \[\]]', "", found)
    elif level == "logic":
        found = re.sub(r'["\n .]', "", found)
    return f"[[{found}]]"


def _inner(text: str) -> str | None:
    match = re.search(r"\[\[(.*?)\]\]", text, re.DOTALL)
    return match.group(1) if match else None


def _letters(text: str) -> str:
    return re.sub(r"[^A-Za-z]", "", text).lower()


_PUZZLE = {  # rule_id -> comparison of (response, answer) inner texts (official ``question_methods``)
    "1": lambda r, a: _letters(r) == _letters(a),
    "2": lambda r, a: _letters(r) in a.split(","),
    "3": lambda r, a: sorted(w for w in re.split(r"\W+", r.lower()) if w) == sorted(a.split(" ")),
    "4": lambda r, a: _letters(r) in a,
    "5": lambda r, a: sorted(re.sub(r"\s+", "", r).split(",")) == sorted(a.split(",")),
    "18": lambda r, a: re.sub(r"[,\s\[\]]+", "", r) == re.sub(r"[,\s\[\]]+", "", a),
}


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def correct(response: str, answer: str, category: str, rule_id: str) -> bool:
    """The official KOR-Bench comparison of a whole response with the gold ``[[...]]`` answer."""
    if category == "logic":
        got = brackets(response, "logic")
        if rule_id == "5":
            return got is not None and sorted(got.split(";")) == sorted(answer.split(";"))
        return got is not None and got == brackets(answer, "logic")
    if category == "puzzle":
        got, gold = _inner(response), _inner(answer)
        if got is None or gold is None:
            return False
        return _PUZZLE.get(rule_id, lambda r, a: re.sub(r"\W+", "", r) == re.sub(r"\W+", "", a))(got, gold)
    got = brackets(response, "clean")
    if got is None:
        return False
    if category == "operation" and rule_id == "18":
        return sorted(re.sub(r"\W+", "", got)) == sorted(re.sub(r"\W+", "", _inner(answer) or ""))
    if category == "operation" and rule_id in {"23", "24", "25"}:
        return _numbers(got) == _numbers(answer)
    if category == "operation" and "or" in answer:
        gold = brackets(answer, "clean") or ""
        return sorted(x.strip() for x in got.strip("[]").split("or")) == \
            sorted(x.strip() for x in gold.strip("[]").split("or"))
    return got == answer


def score(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """``process_results``: 1 if the response's ``[[...]]`` answer is right under the category's rule."""
    check = json.loads(doc["mdlm_answers"])
    response = results[0] if results and results[0] != MISSING else ""
    return {"score": float(bool(response) and correct(response, check["answer"], check["category"],
                                                     check["rule_id"]))}
