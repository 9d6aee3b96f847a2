"""``preset=<name>``: the published evaluation settings of the models we support, as one model argument.

Why: a masked diffusion LM evaluated with lm-eval's task defaults (e.g. 256 answer tokens, our one-block
defaults) can score far below its model card, because the card's answer length, block length, steps and
remasking rule were different. A preset applies the settings the authors published; every number below cites
its source (the table in ``docs/presets.md`` repeats them). Rules:

* explicit model arguments win over the preset (``preset=llada,block_length=64`` keeps block length 64);
* a preset's ``gen_length`` is the answer length of *every* request (as the authors ran it), over a task's own
  ``max_gen_toks``; an explicit ``max_gen_toks=`` model argument turns that off;
* ``preset=auto`` picks by the checkpoint name, then by model family; with no match the engine defaults stay
  and a warning says so (recorded as ``preset: null``);
* the preset, what it set and what explicit arguments overrode are written into the results
  (``config.mdlm.preset``), next to the effective ``decode_config``.

Chat templates cannot be switched on from a model argument (it is lm-eval's ``--apply_chat_template``), so a
preset published with a chat template logs a reminder when it is applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from lm_eval_mdlm.config import ConfigError, DecodeConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preset:
    """One published setting: decode knobs, the answer length, chat template, and where they come from."""

    name: str
    settings: dict[str, Any]
    source: str
    gen_length: int | None = None
    chat_template: bool = False
    not_modeled: str = ""
    families: tuple[str, ...] = ()
    names: tuple[str, ...] = field(default=())  # lower-case substrings of a checkpoint name, for preset=auto


_LLADA = "github:ML-GSAI/LLaDA "
_PB = "github:furiosa-ai/ParallelBench cfg/paper/dllm_vs_llm/"
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("llada", {"strategy": "topk", "score": "confidence", "temperature": 0.0}, _LLADA + "EVAL.md "
           "(LLaDA-8B-Instruct, GSM8K and Math: gen_length = block_length = 512, one token per step; OpenCompass "
           "example llada_instruct_gen_gsm8k_length512_block512_confidence.py: gen_steps 512)", gen_length=512,
           chat_template=True, not_modeled="diff_confidence_eos_eot_inf=True (EOS/EOT never chosen by confidence)",
           families=("llada", "llada_moe"), names=("llada-8b",)),
    Preset("llada-1.5", {"strategy": "topk", "score": "confidence", "temperature": 0.0, "block_length": 16},
           _LLADA + "opencompass/examples/llada_1p5_gen_gsm8k_length256_block16_confidence.py (gen_length 256, "
           "gen_blocksize 16, gen_steps 256)", gen_length=256, chat_template=True,
           not_modeled="diff_confidence_eos_eot_inf=True", names=("llada-1.5", "llada_1.5", "llada1.5")),
    Preset("dream", {"strategy": "topk", "score": "entropy", "temperature": 0.1}, "github:DreamLM/Dream "
           "eval_instruct/eval.sh (gsm8k_cot: max_new_tokens=256, diffusion_steps=256, temperature=0.1, alg=entropy, "
           "--apply_chat_template)", gen_length=256, chat_template=True, not_modeled="top_p=0.9",
           families=("dream",), names=("dream",)),
    Preset("diffucoder", {"strategy": "topk", "score": "entropy", "temperature": 0.4}, "github:apple/ml-diffucoder "
           "README, Instruct usage (max_new_tokens=256, steps=256//TOKEN_PER_STEP with TOKEN_PER_STEP=1, "
           "temperature=0.4, alg=entropy, alg_temp=0, Qwen chat template)", gen_length=256, chat_template=True,
           not_modeled="top_p=0.95", names=("diffucoder",)),
    Preset("llada2.0", {"strategy": "threshold", "threshold": 0.95, "block_length": 32, "temperature": 0.0},
           "LLaDA 2.0 generate() (threshold=0.95, block_length=32, steps=32 per block; docs/families.md)",
           chat_template=True, families=("llada2",), names=("llada2.0", "llada2-")),
    Preset("llada2.1", {"strategy": "edit", "threshold": 0.7, "edit_threshold": 0.5, "max_edit_steps": 16,
                        "block_length": 32, "temperature": 0.0},
           "huggingface diffusers LLaDA2Pipeline docs, LLaDA2.1-mini (gen_length=256, block_length=32, "
           "num_inference_steps=32, threshold=0.7, editing_threshold=0.5, max_post_steps=16, temperature=0.0)",
           gen_length=256, chat_template=True, names=("llada2.1",)),
    Preset("sdar", {"strategy": "topk", "block_length": 4, "temperature": 0.0}, "github:JetAstra/SDAR README "
           "(benchmark setting of the SDAR family: greedy, block_length=4, denoising_steps=4)", chat_template=True,
           families=("sdar",), names=("sdar",)),
    Preset("trado", {"strategy": "threshold", "threshold": 0.9, "block_length": 4, "temperature": 1.0},
           "github:Gen-Verse/dLLM-RL configs/trado_eval.yaml (block_size 4, denoising_steps_per_block 4, "
           "low_confidence_dynamic, dynamic_threshold 0.9, temperature 1.0, top_p 1.0, top_k 0, max_token 2000)",
           gen_length=2000, chat_template=True, names=("trado",)),
    Preset("fast-dllm", {"strategy": "threshold", "threshold": 0.9, "block_length": 32, "cache": "dual"},
           "github:NVlabs/Fast-dLLM llada/eval_gsm8k.sh (gen_length 256, block_length 32, threshold 0.9, "
           "use_cache + dual_cache, 5-shot without chat template)", gen_length=256),
    Preset("parallelbench-llada", {"strategy": "topk", "score": "confidence", "temperature": 0.0}, _PB +
           "llada_1_0_all_tasks_list.yaml and llada_1_5_all_tasks_list.yaml (remasking low_confidence, temperature "
           "0, block_length = max_tokens, steps = max_tokens; max_tokens is the task's)", chat_template=True),
    Preset("parallelbench-dream", {"strategy": "topk", "score": "confidence", "temperature": 0.0}, _PB +
           "dream_all_tasks_list.yaml and diffucoder_all_tasks_list.yaml (remasking maskgit_plus = top-1 "
           "probability, temperature 0, block_length = max_tokens, steps = max_tokens)", chat_template=True),
)}


def _unknown(name: str) -> ConfigError:
    return ConfigError(f"preset={name!r} is unknown; valid presets: auto, {', '.join(PRESETS)} "
                       "(docs/presets.md lists their settings and sources).")


def check_name(name: str | None) -> None:
    """Fail before the model loads when ``name`` is not a preset."""
    if name not in (None, "", "auto", "none") and name not in PRESETS:
        raise _unknown(str(name))


def check(name: str | None, explicit: dict[str, Any]) -> None:
    """Before the model loads: ``name`` is a preset and the explicit arguments combine with its settings."""
    check_name(name)
    preset = PRESETS.get(str(name))
    try:
        DecodeConfig(**{**(preset.settings if preset else {}), **explicit})
    except ConfigError as exc:
        if preset is None:
            raise
        raise ConfigError(f"{exc} (preset={preset.name} sets {preset.settings}; explicit arguments are applied "
                          "over it, so override the conflicting setting too)") from None


def pick(name: str | None, family: str, pretrained: str) -> Preset | None:
    """The preset ``name`` stands for (``auto``: by checkpoint name, then family); None for no preset."""
    if name in (None, "", "none"):
        return None
    if name != "auto":
        check_name(name)
        return PRESETS[name]
    lowered = pretrained.lower()
    by_name = [p for p in PRESETS.values() if any(n in lowered for n in p.names)]
    if by_name:
        return max(by_name, key=lambda p: max(len(n) for n in p.names if n in lowered))  # most specific
    by_family = [p for p in PRESETS.values() if family in p.families]
    if by_family:
        return by_family[0]
    logger.warning("preset=auto: no published settings for %s (family %s); keeping the engine defaults. "
                   "Choose one with preset=<%s>.", pretrained, family, "|".join(PRESETS))
    return None


def apply(preset: Preset | None, explicit: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(decode arguments: the preset's under the explicit ones, record for the results)."""
    if preset is None:
        return dict(explicit), None
    merged = {**preset.settings, **explicit}
    forced = preset.gen_length is not None and "max_gen_toks" not in explicit
    if forced:
        merged["max_gen_toks"] = preset.gen_length
    if preset.chat_template:
        logger.warning("preset=%s was published with the model's chat template: run lm_eval with "
                       "--apply_chat_template to match it.", preset.name)
    record = {"name": preset.name, "source": preset.source, "settings": dict(preset.settings),
              "gen_length": preset.gen_length if forced else None, "chat_template": preset.chat_template,
              "overridden": sorted(k for k in explicit if k in preset.settings or k == "max_gen_toks"),
              "not_modeled": preset.not_modeled}
    return merged, record
