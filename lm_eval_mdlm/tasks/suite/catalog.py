"""The 58 benchmarks of the MDLM suite: one row each, the single source of the YAMLs and the docs table.

Why a table in Python: 58 YAMLs that differ in a few fields drift apart when edited by hand. Each
``task_yamls/mdlm_suite/<domain>/<name>.yaml`` is rendered from :data:`BENCHMARKS` by
``python -m lm_eval_mdlm.tasks.suite.catalog --write`` and a test checks the files match the table.

The list (see docs/suite.md): the AFP/τ paper (arXiv 2601.15593) used 58 benchmarks in six domains
without listing them; ours follows what the LLaDA 2.0/2.1 model cards report, completed with the
standard lm-eval benchmarks of each domain.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_mdlm._lm_eval_hook import task_dirs

DOMAINS = ("knowledge", "math", "reasoning", "language", "agentic", "coding")
PREFIX = "mdlm_suite_"


@dataclass(frozen=True)
class Benchmark:
    """One suite task. ``data``: the YAML's data keys; ``base``: the lm-eval YAML it builds on."""

    name: str
    domain: str
    title: str
    source: str
    adapter: str
    extractor: str
    scorer: str
    gen: int
    data: dict[str, Any] = field(default_factory=dict)
    base: str | None = None
    note: str = ""
    unsafe: bool = False

    @property
    def task(self) -> str:
        return PREFIX + self.name


def _hub(path: str, split: str, name: str | None = None) -> dict[str, Any]:
    return {"dataset_path": path, "dataset_name": name, "test_split": split}


def _loader(fn: str, **kwargs: Any) -> dict[str, Any]:
    return {"custom_dataset": fn, "dataset_kwargs": kwargs, "test_split": "test"}


_GAOKAO = [f"hails/agieval-gaokao-{s}" for s in
           ("biology", "chemistry", "chinese", "english", "geography", "history", "mathqa", "physics")]
_BFCL = "gorilla-llm/Berkeley-Function-Calling-Leaderboard"
_MC, _NUM, _BOX, _TXT = ("choice_letter", "score_match"), ("final_number", "score_match"), \
    ("boxed", "score_math"), ("marked_text", "score_match")
A, O = "adapters.", "adapters_open."  # noqa: E741 - module prefixes, short so each row fits a line


def _b(name: str, domain: str, title: str, source: str, adapter: str, kind: tuple[str, str], gen: int,
       **kw: Any) -> Benchmark:
    return Benchmark(name, domain, title, source, adapter, kind[0], kind[1], gen, **kw)


BENCHMARKS: tuple[Benchmark, ...] = (
    # knowledge
    _b("mmlu", "knowledge", "MMLU", "cais/mmlu (all)", A + "mmlu", _MC, 256,
       base="mmlu/generative/_default_template_yaml", data={"dataset_name": "all"}),
    _b("mmlu_pro", "knowledge", "MMLU-Pro", "TIGER-Lab/MMLU-Pro", A + "mmlu_pro", _MC, 512,
       base="mmlu_pro/_default_template_yaml"),
    _b("gpqa_diamond", "knowledge", "GPQA Diamond", "Idavidrein/gpqa (gpqa_diamond, gated)", A + "gpqa", _MC, 512,
       base="gpqa/generative/gpqa_diamond_generative_n_shot.yaml", data={"test_split": "train"}),
    _b("arc_challenge", "knowledge", "ARC-Challenge", "allenai/ai2_arc", A + "arc", _MC, 256,
       base="arc/arc_challenge.yaml"),
    _b("arc_easy", "knowledge", "ARC-Easy", "allenai/ai2_arc", A + "arc", _MC, 256, base="arc/arc_easy.yaml"),
    _b("openbookqa", "knowledge", "OpenBookQA", "allenai/openbookqa", A + "arc", _MC, 256,
       base="openbookqa/openbookqa.yaml"),
    _b("cmmlu", "knowledge", "CMMLU", "haonan-li/cmmlu (67 subjects)", A + "cmmlu_ceval", _MC, 256,
       data=_loader("cmmlu", hub_path="haonan-li/cmmlu", hub_split="test"),
       note="a loading-script hub repo is read from its release zip"),
    _b("ceval", "knowledge", "C-Eval", "ceval/ceval-exam (52 subjects, val)", A + "cmmlu_ceval", _MC, 256,
       data=_loader("concat_lm_eval_subsets", hub_path="ceval/ceval-exam", hub_split="val",
                    lm_eval_folder="ceval", lm_eval_prefix="ceval-valid_")),
    _b("gaokao", "knowledge", "GAOKAO (AGIEval)", "hails/agieval-gaokao-* (8 MC subjects)", A + "agieval", _MC, 256,
       data=_loader("concat_hub", hub_path=_GAOKAO, hub_split="test")),
    _b("triviaqa", "knowledge", "TriviaQA", "mandarjoshi/trivia_qa (rc.nocontext)", O + "triviaqa", _TXT, 128,
       base="triviaqa/default.yaml", data={"test_split": "validation"}),
    _b("nq_open", "knowledge", "NaturalQuestions-Open", "google-research-datasets/nq_open", O + "nq_open", _TXT, 128,
       base="nq_open/nq_open.yaml", data={"test_split": "validation"}),
    # math
    _b("gsm8k", "math", "GSM8K", "openai/gsm8k (main)", O + "gsm8k", _NUM, 512, base="gsm8k/gsm8k.yaml"),
    _b("gsm_plus", "math", "GSM-Plus", "qintongli/GSM-Plus", O + "gsm_plus", _NUM, 512, base="gsm_plus/gsm_plus.yaml",
       note="rows without a numeric answer (critical thinking) dropped"),
    _b("asdiv", "math", "ASDiv", "EleutherAI/asdiv", O + "asdiv", _NUM, 256, base="asdiv/default.yaml",
       data={"test_split": "validation"}),
    _b("hendrycks_math", "math", "MATH", "EleutherAI/hendrycks_math (7 subjects)", O + "hendrycks_math", _BOX, 1024,
       data=_loader("concat_lm_eval_subsets", hub_path="EleutherAI/hendrycks_math", hub_split="test",
                    lm_eval_folder="hendrycks_math", lm_eval_prefix="hendrycks_math_")),
    _b("math500", "math", "MATH-500", "HuggingFaceH4/MATH-500", O + "math_problem", _BOX, 1024,
       base="minerva_math/minerva_math500.yaml"),
    _b("aime24", "math", "AIME 2024", "Maxwell-Jia/AIME_2024", O + "math_problem", _BOX, 1024, base="aime/aime24.yaml"),
    _b("aime25", "math", "AIME 2025", "math-ai/aime25", O + "math_problem", _BOX, 1024, base="aime/aime25.yaml"),
    _b("olympiadbench", "math", "OlympiadBench", "Hothan/OlympiadBench (OE_TO_maths_en_COMP)", O + "olympiadbench",
       _BOX, 1024, data=_hub("Hothan/OlympiadBench", "train", "OE_TO_maths_en_COMP")),
    _b("omni_math", "math", "Omni-MATH", "KbsdJames/Omni-MATH", O + "math_problem", _BOX, 1024,
       data=_hub("KbsdJames/Omni-MATH", "test")),
    _b("amc23", "math", "AMC 2023", "math-ai/amc23", O + "math_problem", _BOX, 1024,
       data=_hub("math-ai/amc23", "test")),
    # reasoning
    _b("bbh", "reasoning", "BIG-Bench Hard", "SaylorTwift/bbh (27 tasks)", O + "bbh", _TXT, 512,
       data=_loader("concat_lm_eval_subsets", hub_path="SaylorTwift/bbh", hub_split="test",
                    lm_eval_folder="bbh/cot_zeroshot", lm_eval_prefix="")),
    _b("musr", "reasoning", "MuSR", "TAUR-Lab/MuSR (3 splits)", A + "musr", _MC, 512,
       data=_loader("concat_hub", hub_path="TAUR-Lab/MuSR",
                    hub_split=["murder_mysteries", "object_placements", "team_allocation"])),
    _b("zebralogic", "reasoning", "ZebraLogic (mc_mode)", "allenai/ZebraLogicBench-private (mc_mode, gated)",
       A + "zebralogic", _MC, 512, data=_hub("allenai/ZebraLogicBench-private", "test", "mc_mode"),
       note="gated: the public allenai/ZebraLogicBench hides the answers"),
    _b("prontoqa", "reasoning", "PrOntoQA", "renma/ProntoQA", O + "prontoqa", ("boolean", "score_match"), 512,
       data=_hub("renma/ProntoQA", "validation")),
    _b("korbench", "reasoning", "KOR-Bench", "official release files (5 categories) + local data", O + "korbench",
       ("response", "score_korbench"), 1024, data=_loader("korbench"), note="needs korbench_dir"),
    _b("logiqa2", "reasoning", "LogiQA 2.0", "csitfun/LogiQA2.0 release (logiqa/DATA/LOGIQA/test.txt)", A + "logiqa2",
       _MC, 512, data=_loader("logiqa2", split="test"),
       note="lm-eval's baber/logiqa2 is a loading script; the release file is read instead"),
    _b("commonsense_qa", "reasoning", "CommonsenseQA", "tau/commonsense_qa", A + "commonsense_qa", _MC, 256,
       base="commonsense_qa/default.yaml", data={"test_split": "validation"}),
    _b("lsat", "reasoning", "LSAT (AGIEval)", "hails/agieval-lsat-{ar,lr,rc}", A + "agieval", _MC, 512,
       data=_loader("concat_hub", hub_path=[f"hails/agieval-lsat-{s}" for s in ("ar", "lr", "rc")], hub_split="test")),
    _b("sudoku", "reasoning", "Sudoku 9x9", "generated offline (seed 0, 200 puzzles, 40 holes)", O + "sudoku",
       ("sudoku_grid", "score_sudoku"), 512, data=_loader("sudoku", num_samples=200, seed=0, holes=40)),
    _b("countdown", "reasoning", "Countdown", "generated offline (seed 0, 200 instances, 3-4 numbers)", O + "countdown",
       ("countdown_expression", "score_countdown"), 256, data=_loader("countdown", num_samples=200, seed=0)),
    # language understanding
    _b("hellaswag", "language", "HellaSwag", "Rowan/hellaswag", A + "hellaswag", _MC, 256,
       base="hellaswag/hellaswag.yaml",
       data={"test_split": "validation"}),
    _b("piqa", "language", "PIQA", "baber/piqa", A + "piqa", _MC, 256, base="piqa/piqa.yaml",
       data={"test_split": "validation"}),
    _b("siqa", "language", "Social IQa", "lighteval/siqa", A + "siqa", _MC, 256, base="siqa/siqa.yaml",
       data={"test_split": "validation"}),
    _b("winogrande", "language", "WinoGrande", "allenai/winogrande (winogrande_xl)", A + "winogrande", _MC, 256,
       base="winogrande/default.yaml", data={"test_split": "validation"}),
    _b("squadv2", "language", "SQuAD 2.0", "lighteval/squad_v2 (lm-eval's copy)", O + "squadv2", _TXT, 128,
       data=_hub("lighteval/squad_v2", "validation")),
    _b("drop", "language", "DROP", "EleutherAI/drop", O + "drop", _TXT, 256, base="drop/default.yaml",
       data={"test_split": "validation"}),
    _b("race", "language", "RACE (high)", "EleutherAI/race (high)", A + "race", _MC, 256, base="race/race.yaml"),
    _b("boolq", "language", "BoolQ", "aps/super_glue (boolq)", O + "boolq", ("boolean", "score_match"), 256,
       base="super_glue/boolq/default.yaml", data={"test_split": "validation"}),
    _b("ocnli", "language", "OCNLI", "clue/clue (ocnli, validation)", A + "ocnli", _MC, 256,
       data=_hub("clue/clue", "validation", "ocnli")),
    _b("anli", "language", "ANLI (round 3)", "facebook/anli (test_r3)", A + "anli", _MC, 256, base="anli/anli_r3.yaml"),
    # agentic (function calling and instruction following)
    _b("ifeval", "agentic", "IFEval", "google/IFEval", O + "ifeval", ("response", "score_ifeval"), 1024,
       base="ifeval/ifeval.yaml"),
    *(_b(f"bfcl_{c}", "agentic", f"BFCL v3 {c.replace('_', ' ')}", f"{_BFCL} (BFCL_v3_{c}.json)", O + "bfcl",
         ("function_calls", "score_bfcl"), 256, data=_loader("bfcl", hub_path=_BFCL, category=c))
      for c in ("simple", "multiple", "parallel", "parallel_multiple", "live_simple", "live_multiple")),
    # coding
    _b("humaneval", "coding", "HumanEval", "openai/openai_humaneval", O + "humaneval", ("code_block", "score_program"),
       512, base="humaneval/humaneval.yaml", unsafe=True),
    _b("humaneval_plus", "coding", "HumanEval+", "evalplus/humanevalplus", O + "humaneval",
       ("code_block", "score_program"), 512, base="humaneval/humaneval_plus.yaml", unsafe=True),
    _b("mbpp", "coding", "MBPP", "google-research-datasets/mbpp (full)", O + "mbpp", ("code_block", "score_program"),
       512, base="mbpp/mbpp.yaml", unsafe=True),
    _b("mbpp_plus", "coding", "MBPP+", "evalplus/mbppplus", O + "mbpp", ("code_block", "score_program"), 512,
       base="mbpp/mbpp_plus.yaml", unsafe=True),
    _b("cruxeval_o", "coding", "CRUXEval-O", "cruxeval-org/cruxeval", O + "cruxeval_output",
       ("marked_literal", "score_cruxeval"), 512, base="cruxeval/cruxeval_output.yaml", unsafe=True),
    _b("cruxeval_i", "coding", "CRUXEval-I", "cruxeval-org/cruxeval", O + "cruxeval_input",
       ("marked_literal", "score_cruxeval"), 512, base="cruxeval/cruxeval_input.yaml", unsafe=True),
    _b("bigcodebench", "coding", "BigCodeBench (instruct, full)", "bigcode/bigcodebench (v0.1.4)", O + "bigcodebench",
       ("code_block", "score_program"), 1024, data=_hub("bigcode/bigcodebench", "v0.1.4"), unsafe=True,
       note="tests need the benchmark's Python libraries"),
    _b("livecodebench", "coding", "LiveCodeBench (stdin problems)", "livecodebench/code_generation_lite (test.jsonl)",
       O + "livecodebench", ("code_block", "score_stdio"), 1024,
       data=_loader("livecodebench", hub_path="livecodebench/code_generation_lite", files=["test.jsonl"]), unsafe=True,
       note="stdin/stdout problems only"),
    _b("multipl_e_cpp", "coding", "MultiPL-E (HumanEval, C++)", "nuprl/MultiPL-E (humaneval-cpp)", O + "multipl_e_cpp",
       ("code_block", "score_program"), 512, data=_hub("nuprl/MultiPL-E", "test", "humaneval-cpp"), unsafe=True,
       note="needs g++"),
    _b("spider", "coding", "Spider (text-to-SQL)", "xlangai/spider + local databases", O + "spider",
       ("code_block", "score_sql"), 256, data=_loader("spider", hub_path="xlangai/spider", hub_split="validation"),
       note="needs spider_db_dir"),
)


# ---- rendering -------------------------------------------------------------------------------------
# The task folder lm-eval is given (the checkout's, or the wheel's copy inside the package).
ROOT = Path((task_dirs() or [str(Path(__file__).resolve().parents[3] / "task_yamls")])[0]) / "mdlm_suite"
_FN = "!function lm_eval_mdlm.tasks.suite."
_HEADER = "# Generated by `python -m lm_eval_mdlm.tasks.suite.catalog --write` from catalog.py: edit there.\n"


def _scalar(value: Any) -> str:
    return "null" if value is None else json.dumps(value, ensure_ascii=False)


def render_task(b: Benchmark) -> str:
    """The YAML of one benchmark (flow-style JSON values are valid YAML)."""
    lines = [_HEADER.rstrip(), f"# {b.title} ({b.domain}): {b.source}." + (f" Note: {b.note}." if b.note else ""),
             f"class: {_FN}task.SuiteTask", f"task: {b.task}"]
    if b.base:
        lines.append(f"lm_eval_base: {b.base}")
    for key, value in b.data.items():
        lines.append(f"{key}: {_FN}loaders.{value}" if key == "custom_dataset" else f"{key}: {_scalar(value)}")
    if b.unsafe:
        lines.append("unsafe_code: true")
    extra = ["prompt_level_loose_acc"] if b.scorer == "score_ifeval" else []
    lines += [
        "output_type: generate_until", "training_split: null", "validation_split: null", "fewshot_split: null",
        f"process_docs: {_FN}{b.adapter}", "doc_to_text: mdlm_prompt", "doc_to_target: mdlm_target",
        "num_fewshot: 0",
        f"generation_kwargs: {{until: [], do_sample: false, max_gen_toks: {b.gen}}}",
        "filter_list:", "  - name: strict", "    filter:", "      - function: custom",
        f"        filter_fn: {_FN}filters.strict_{b.extractor}", "      - function: take_first",
        f"process_results: {_FN}scoring.{b.scorer}", "metric_list:",
        *[f"  - {{metric: {m}, aggregation: mean, higher_is_better: true}}" for m in ["score", *extra]],
        f"metadata: {{version: 1.0, domain: {b.domain}, extractor: {b.extractor}}}", ""]
    return "\n".join(lines)


def render_group(domain: str | None) -> str:
    """A domain group (or ``mdlm_suite`` of the six domains), averaging ``score`` over its members."""
    name = "mdlm_suite" if domain is None else f"mdlm_suite_{domain}"
    members = ([f"mdlm_suite_{d}" for d in DOMAINS] if domain is None
               else [b.task for b in BENCHMARKS if b.domain == domain])
    return "\n".join([_HEADER.rstrip(), f"group: {name}", "task:", *[f"  - {m}" for m in members],
                      "aggregate_metric_list:", "  - {metric: score, aggregation: mean, weight_by_size: false}",
                      "metadata: {version: 1.0}", ""])


def render_all() -> dict[str, str]:
    """Relative path under ``task_yamls/mdlm_suite`` -> file text, for every suite file."""
    files = {"_mdlm_suite.yaml": render_group(None)}
    for domain in DOMAINS:
        files[f"{domain}/_{domain}.yaml"] = render_group(domain)
    files.update({f"{b.domain}/{b.name}.yaml": render_task(b) for b in BENCHMARKS})
    return files


def write(root: Path = ROOT) -> list[Path]:
    """(Re)write every suite YAML; returns the paths written."""
    written = []
    for rel, text in render_all().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    if "--write" in sys.argv:
        print(f"wrote {len(write())} files under {ROOT}")
