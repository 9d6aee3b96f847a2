"""README's table of ``--model mdlm`` arguments, generated: the model's own arguments, ``DecodeConfig``'s shared
fields and every strategy's knobs from the registry (:mod:`lm_eval_mdlm.decoding.strategies`).

``python -m lm_eval_mdlm.arguments`` prints the table, ``--write README.md`` replaces README's with it;
``tests/test_strategy_registry.py`` fails when README's differs (and when a model argument or a decoding field is
missing from it), so a new strategy's knobs reach README by regenerating it, never by hand.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding import strategies
from lm_eval_mdlm.decoding.rules import SCORE_RULES

Row = tuple[str, str, str]
"""(arguments, default, meaning) of one table row; several arguments share a row when they belong together."""

MODEL_ROWS: tuple[Row, ...] = (
    ("pretrained", "the shipped default model", "local folder or hub id; omitted: the small model this project "
     "trains ([docs/default_model.md](docs/default_model.md))"),
    ("revision, trust_remote_code", "`None`, `False`", "as for `from_pretrained`"),
    ("family", "from the config", "`llada`, `llada_moe`, `dream`, `masked_lm`, `sdar`, `sdar_moe`, `llada2`, "
     "`diffusion_gemma` (native transformers modules); `family=<name>:remote` with `trust_remote_code=True` "
     "runs the checkpoint's own code ([docs/families.md](docs/families.md))"),
    ("preset", "none", "a model card's or paper's published decoding settings ([docs/presets.md](docs/presets.md))"),
    ("dtype", "`auto`", "`auto`, `bfloat16`, `float16`, `float32`"),
    ("device", "`cuda` if available", "lm-eval's `--device`; `cuda:*` without CUDA falls back to CPU with a warning"),
    ("mask_id", "the family's mask token, else the tokenizer's", "override the mask token id (required if the "
     "tokenizer has none and the family is unknown); an EOS or padding id is refused"),
    ("batch_size, max_batch_size", "1, 64", "an integer >= 1, or `auto` / `auto:N` (probed once: the largest power of "
     "two up to `max_batch_size` whose forward fits); in `--model_args` they win over lm-eval's flags (with a "
     "warning)"),
    ("max_length", "`max_position_embeddings`", "prompt + answer limit; longer prompts are truncated from the left "
     "with a warning (as HFLM)"),
    ("threads", "half the usable cores, or `OMP_NUM_THREADS`", "CPU threads for torch; oversubscription makes small "
     "models ~100x slower"),
    ("add_bos_token", "`False`", "prepend BOS (or CLS) to every prompt"),
    ("trace_path", "none", "also write the per-sample traces to this JSONL file (checked at load)"),
    ("likelihood, mc_num, order, elbo_variant", "`elbo`, 128, `l2r`, `llada`", "`loglikelihood` requests: the "
     "ELBO over `mc_num` masks (`elbo_variant` `llada`/`dream`), or `chain`, exact along `order` `l2r`/`r2l`/"
     "`random` ([docs/suite.md](docs/suite.md))"),
    ("likelihood_batch_size", "`batch_size`", "rows (request x mask pattern) per likelihood forward"),
    ("parallelize, device_map", "`False`, none", "split the model over GPUs (`from_pretrained(device_map=...)`, as "
     "`hf`)"),
    ("max_memory_per_gpu, max_cpu_memory, offload_folder", "none, none, `./offload`", "limits and offload for "
     "`parallelize` ([docs/distributed.md](docs/distributed.md))"),
)
"""The model's own arguments (``MDLM.__init__``; the test checks that each appears)."""

BUDGET_ROW: Row = ("k / steps", "one token per step", "quota strategies (" + ", ".join(
    f"`{n}`" for n, s in strategies.REGISTRY.items() if s.quota) + "): tokens per step, or total steps (LLaDA's "
    "schedule)")

SHARED_ROWS: tuple[Row, ...] = (
    ("block_length", "whole answer", "semi-autoregressive blocks, left to right"),
    ("cache", "`none`", "KV caching within a block (Fast-dLLM): `none`, `prefix`, `dual`; needs `block_length` (two "
     "blocks or more) and a native `llada`/`dream` (approximate) or `sdar`/`llada2` (exact) checkpoint "
     "([docs/families.md](docs/families.md#kv-caching))"),
    ("temperature, seed", "0, 0", "Gumbel-max sampling in float64, noise a function of (seed, prompt, step, "
     "position); temperature alone decides sampling (`do_sample: true` at temperature 0 decodes greedily, with a "
     "warning)"),
    ("max_gen_toks", "256", "answer length when the task sets none"),
)


def _code(names: str) -> str:
    return ", ".join(f"`{n.strip()}`" for n in names.split(",")).replace(" / ", "` / `")


def _default(value: Any) -> str:
    return f"`{value}`" if isinstance(value, str) else str(value)


def decoding_rows() -> list[Row]:
    """The decoding rows: strategy and score, the budget, each strategy's knobs (registry order), the rest."""
    engine = [f"`{n}`" for n, s in strategies.REGISTRY.items() if s.sampler is not None]
    own = [f"`{n}`: {s.doc}" for n, s in strategies.REGISTRY.items() if s.sampler is None]
    rows = [("strategy", _default(DecodeConfig().strategy),
             f"{', '.join(engine)} ([docs/strategies.md](docs/strategies.md)); {'; '.join(own)}"),
            ("score", _default(DecodeConfig().score), ", ".join(f"`{s}`" for s in SCORE_RULES)), BUDGET_ROW]
    for name, spec in strategies.REGISTRY.items():
        if spec.knobs:
            rows.append((", ".join(k.name for k in spec.knobs), ", ".join(_default(k.default) for k in spec.knobs),
                         f"{name}: {'; '.join(k.doc for k in spec.knobs)}"))
    return rows + list(SHARED_ROWS)


def markdown_table() -> str:
    """README's argument table, one line per row, ending with a newline."""
    lines = ["| argument | default | meaning |", "|---|---|---|"]
    lines += [f"| {_code(names)} | {default} | {meaning} |" for names, default, meaning in
              (*MODEL_ROWS, *decoding_rows())]
    return "\n".join(lines) + "\n"


def documented_names() -> set[str]:
    """Every argument name the table documents."""
    rows = (*MODEL_ROWS, *decoding_rows())
    return {name.strip() for names, _, _ in rows for name in names.replace(" / ", ",").split(",")}


def write_table(readme: Path) -> None:
    """Replace the argument table in ``readme`` (from its header line to the next blank line) by the generated one."""
    text = readme.read_text(encoding="utf-8")
    start = text.index("| argument | default | meaning |")
    readme.write_text(text[:start] + markdown_table() + text[text.index("\n\n", start) + 1:], encoding="utf-8")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Print README's argument table, or write it into README.")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the table in this file")
    args = parser.parse_args()
    if args.write:
        write_table(args.write)
    else:
        print(markdown_table(), end="")
