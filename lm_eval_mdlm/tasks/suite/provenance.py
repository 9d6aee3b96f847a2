"""Where each suite benchmark's data comes from and how its schema was checked: the docs table's facts.

Why a module: docs/suite.md lists, per benchmark, its split, size and how the dataset's coordinates and
fields were verified; keeping these next to the catalog (and a test that the docs match) stops them
drifting. Sizes are the evaluated split's row count as published by the dataset's card, paper or
release (the development machine cannot reach the hub to count them); they are not measured here.
"""

from __future__ import annotations

from lm_eval_mdlm.tasks.suite.catalog import BENCHMARKS, Benchmark

LM_EVAL = "lm-eval 0.4.13 task file"
FIXTURE = "fixture rows through the task"
PUBLIC = "public loaders of the dataset"

SIZE: dict[str, str] = {
    "mmlu": "14,042", "mmlu_pro": "12,032", "gpqa_diamond": "198", "arc_challenge": "1,172", "arc_easy": "2,376",
    "openbookqa": "500", "cmmlu": "11,528", "ceval": "1,346", "gaokao": "1,954 (multi-answer rows dropped)",
    "triviaqa": "17,944", "nq_open": "3,610", "gsm8k": "1,319", "gsm_plus": "10,552 (9,233 with a number)",
    "asdiv": "2,305", "hendrycks_math": "5,000", "math500": "500", "aime24": "30", "aime25": "30",
    "olympiadbench": "674", "omni_math": "4,428", "amc23": "40", "bbh": "6,511", "musr": "756",
    "zebralogic": "3,259", "prontoqa": "500", "korbench": "1,250", "logiqa2": "1,572", "commonsense_qa": "1,221",
    "lsat": "1,009", "sudoku": "200", "countdown": "200", "hellaswag": "10,042", "piqa": "1,838", "siqa": "1,954",
    "winogrande": "1,267", "squadv2": "11,873", "drop": "9,536", "race": "1,045", "boolq": "3,270",
    "ocnli": "3,000", "anli": "1,200", "ifeval": "541", "bfcl_simple": "400", "bfcl_multiple": "200",
    "bfcl_parallel": "200", "bfcl_parallel_multiple": "200", "bfcl_live_simple": "258",
    "bfcl_live_multiple": "1,053", "humaneval": "164", "humaneval_plus": "164", "mbpp": "500", "mbpp_plus": "378",
    "cruxeval_o": "800", "cruxeval_i": "800", "bigcodebench": "1,140",
    "livecodebench": "400 in test.jsonl (stdin ones kept)",
    "multipl_e_cpp": "161", "spider": "1,034",
}

_OURS = {  # benchmarks without an lm-eval task: what their coordinates and fields were checked against
    "cmmlu": f"{LM_EVAL} (subjects, fields); release zip layout",
    "ceval": f"{LM_EVAL} (subjects, fields)",
    "gaokao": f"{LM_EVAL} (agieval: query, choices, gold)",
    "hendrycks_math": f"{LM_EVAL} (subjects, answer from the solution's box)",
    "olympiadbench": f"{PUBLIC} (config, split, final_answer)",
    "omni_math": f"{PUBLIC} (split, problem, answer)",
    "amc23": f"{PUBLIC} (split, question, answer)",
    "bbh": f"{LM_EVAL} (cot_zeroshot subtasks, input, target)",
    "musr": f"{LM_EVAL} (leaderboard musr: splits, fields)",
    "zebralogic": "ZeroEval's mc_mode reader (private repo, id, puzzle, question, choices, answer)",
    "prontoqa": f"{PUBLIC} (split, context, question, options, answer A/B)",
    "korbench": "official loader and scorer as shipped in OpenCompass (rule/sample files, [[...]] answers)",
    "logiqa2": "the official release file (csitfun/LogiQA2.0 logiqa/DATA/LOGIQA/test.txt)",
    "lsat": f"{LM_EVAL} (agieval: query, choices, gold)",
    "sudoku": "generated here; validity checker", "countdown": "generated here; expression checker",
    "squadv2": f"{LM_EVAL} (squadv2: lighteval/squad_v2 fields)",
    "ocnli": f"{PUBLIC} (lighteval: clue/clue ocnli, label names from the data)",
    "bigcodebench": f"{PUBLIC} (split v0.1.4, instruct_prompt, test)",
    "livecodebench": f"{PUBLIC} (release jsonl, public/private test cases)",
    "multipl_e_cpp": "dataset card fields; bigcode-evaluation-harness's program assembly (tests minus '}')",
    "spider": f"{PUBLIC} (xlangai/spider fields; SQLite databases of the release)",
    **{f"bfcl_{c}": "the BFCL v3 release files (question/function and possible_answer jsonl)"
       for c in ("simple", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple")},
}


def checked(b: Benchmark) -> str:
    """How the benchmark's data coordinates and fields were verified (always plus its fixture test)."""
    how = _OURS.get(b.name) or (f"{LM_EVAL} `{b.base}`" if b.base else "")
    return f"{how}; {FIXTURE}"


def split(b: Benchmark) -> str:
    """The evaluated split, as the task YAML or its lm-eval base names it."""
    from lm_eval_mdlm.tasks.suite.task import resolve_config

    kwargs = b.data.get("dataset_kwargs") or {}
    if "hub_split" in kwargs:
        value = kwargs["hub_split"]
        return ", ".join(value) if isinstance(value, list) else value
    if "custom_dataset" in b.data:
        if b.name in ("sudoku", "countdown"):
            return "generated"
        return "release file" if b.name.startswith("bfcl_") or b.name == "livecodebench" else \
            kwargs.get("split", "release files")
    cfg = resolve_config({"task": b.task, **({"lm_eval_base": b.base} if b.base else {}), **b.data})
    return str(cfg.get("test_split"))


def docs_table() -> str:
    """The Markdown table of docs/suite.md: the catalog's facts with this module's split, size and verification."""
    rows = ["| # | benchmark | domain | dataset | split | size | lm-eval task reused | task | extractor | scorer "
            "| gen. length | how verified | note |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for i, b in enumerate(BENCHMARKS, 1):
        base = f"`{b.base}`" if b.base else "ours"
        rows.append(f"| {i} | {b.title} | {b.domain} | {b.source} | {split(b)} | {SIZE[b.name]} "
                    f"| {base} | `{b.task}` | `{b.extractor}` | `{b.scorer}` | {b.gen} | {checked(b)} "
                    f"| {b.note} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(docs_table())
