"""The one decoding configuration object shared by the CLI, the Python API and the engine.

Its field names are the ``--model_args`` / ``--gen_kwargs`` keys, so ``strategy=threshold,threshold=0.8``
on the command line and ``DecodeConfig(strategy="threshold", threshold=0.8)`` in Python mean the same
thing. Validation lives here, once, and every error names the bad value, what is allowed and how to
fix it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

STRATEGIES = ("topk", "threshold", "factor", "eb", "dilated", "klass", "remdm", "rcr", "edit", "psd", "generate")
# Strategies run by a model's own sampler (its ``generate()``) instead of the engine's loop; the family
# that has one maps our knobs onto it and refuses the others (docs/families.md, DiffusionGemma).
MODEL_STRATEGIES = ("generate",)
ENGINE_STRATEGIES = tuple(s for s in STRATEGIES if s not in MODEL_STRATEGIES)
# Strategies whose per-step budget comes from k= / steps= (LLaDA's quota schedule).
QUOTA_STRATEGIES = ("topk", "klass", "remdm", "rcr")
REMDM_VARIANTS = ("cap", "rescale", "conf")
CACHE_MODES = ("none", "prefix", "dual")
SCORES = ("confidence", "margin", "entropy", "random", "left_to_right")
PSD_POLICIES = ("threshold", "top1")
PSD_ACCEPT = ("match", "lossless")
# Scores that are probabilities in [0, 1] and can therefore be compared with a threshold.
PROBABILITY_SCORES = ("confidence", "margin")
FACTOR_RULES = ("formula", "fastdllm")

# Upper bounds for which inf means "no bound" (klass_kl=inf turns KLASS into threshold); every other
# number must be finite: remdm_eta=inf made unmask probabilities NaN (inf * 0) and the loop never ended.
UNBOUNDED_KNOBS = ("factor", "entropy_bound", "klass_kl")

# lm-eval / HF generation keys we accept in gen_kwargs besides our own fields.
_HF_KEYS = ("until", "max_gen_toks", "do_sample", "max_new_tokens")


class ConfigError(ValueError):
    """A decoding knob has a value the engine cannot use; the message says how to fix it."""


@dataclass(frozen=True)
class DecodeConfig:
    """How to turn a fully masked answer into tokens.

    Defaults reproduce LLaDA's reference ``generate()`` (GSAI-ML/LLaDA, generate.py): one block over the
    whole answer, one token per step, low-confidence remasking (commit the most confident masked
    position), greedy.
    """

    strategy: str = "topk"
    """Select rule: ``topk`` (a fixed quota per step), ``threshold`` (Fast-dLLM's confidence
    threshold) or ``factor`` (Fast-dLLM's factor rule); ``generate`` runs the model's own sampler
    instead of the engine (DiffusionGemma's default and only one; docs/families.md)."""
    score: str = "confidence"
    """Which masked positions are most ready: p(x0) ``confidence``, top-1 minus top-2 ``margin``,
    negative ``entropy``, ``random`` (seeded) or ``left_to_right``."""
    k: int | None = None
    """topk: tokens committed per step (the last step of a block takes the remainder)."""
    steps: int | None = None
    """topk: total denoising steps over the answer, split over blocks; per block base = n // s and
    the first n % s steps take one more (LLaDA's ``get_num_transfer_tokens``). Default: one token
    per step."""
    threshold: float = 0.9
    """threshold: commit every masked position whose score >= threshold; if none, the single best."""
    factor: float = 1.0
    """factor: commit the largest n with (n + 1)(1 - c_(n)) < factor over descending scores c."""
    factor_rule: str = "formula"
    """factor: ``formula`` (the paper's bound, above) or ``fastdllm`` (Fast-dLLM's code: c_(n) >=
    1 - factor / (n + 1), and when only the last of the n candidates fails, all n are committed)."""
    block_length: int | None = None
    """Semi-autoregressive blocks decoded left to right; the strategy acts inside the current block.
    ``None`` = one block. A length that does not divide the answer leaves a shorter last block.
    Block-diffusion models (sdar, llada2) decode in their attention blocks, aligned to the prompt:
    ``None`` there means the checkpoint's block size."""
    cache: str = "none"
    """KV caching across the steps of a block (Fast-dLLM, Wu et al. 2025, "Key-Value Cache for
    Block-Wise Decoding"): ``none``; ``prefix`` (the first step of a block refreshes the whole row,
    later steps feed the block and everything after it and reuse the keys/values left of the block);
    ``dual`` (later steps feed the block only and reuse prefix and suffix keys/values). Approximate:
    reused keys/values are those of the block's first step. Needs ``block_length`` and a model whose
    attention takes a cache (llada, dream loaded natively); see docs/families.md. On block-diffusion
    models (sdar, llada2 loaded natively) both modes run the exact block cache (finished blocks never
    change), whose outputs equal ``none``'s."""
    temperature: float = 0.0
    """0 = greedy; > 0 = Gumbel-max sampling in float64 (LLaDA's ``add_gumbel_noise``)."""
    seed: int = 0
    """Seeds sampling and the ``random`` score. Noise is a pure function of (seed, prompt, step,
    position, token), so results do not depend on batch size or order."""
    max_gen_toks: int = 256
    """Answer length (the masked canvas) when the task does not set ``max_gen_toks``."""
    entropy_bound: float = 0.1
    """eb: commit the largest entropy-sorted prefix with sum(H) - max(H) <= entropy_bound."""
    klass_confidence: float = 0.9
    """klass: a position may be committed once its confidence exceeds this ..."""
    klass_kl: float = 0.01
    """... and the KL between its predictions at consecutive steps stayed below this ..."""
    klass_history: int = 2
    """... for this many consecutive steps; otherwise the top-k quota is committed."""
    remdm_variant: str = "cap"
    """remdm: how the remasking probability sigma_t is set: ``cap`` min(eta, sigma_max), ``rescale``
    eta * sigma_max, ``conf`` eta * sigma_max spread over tokens by low confidence."""
    remdm_eta: float = 0.04
    """remdm: eta of the chosen variant."""
    remdm_t_on: float = 1.0
    """remdm: remasking is active while the diffusion time t lies in [t_off, t_on] (the loop window)."""
    remdm_t_off: float = 0.0
    edit_threshold: float = 0.9
    """edit: overwrite a committed token when the new prediction differs and has this confidence (0 =
    every differing prediction, LLaDA 2.1's S mode; docs/families.md lists LLaDA 2.x's settings)."""
    max_edit_steps: int = 4
    """edit: editing-only steps allowed after a block is filled (they stop early when nothing changes)."""
    psd_depth: int = 4
    """psd: speculative drafts verified together in one batched forward (draft d adds the d-th policy step
    to the canvas; docs/psd.md). 1 = plain parallel decoding with the unmasking policy."""
    psd_policy: str = "threshold"
    """psd: positions unmasked by a draft's first depth: ``threshold`` (Fast-dLLM's rule with ``threshold``)
    or ``top1`` (the most confident one); each deeper depth adds the next-best position."""
    psd_accept: str = "match"
    """psd: which draft is kept: ``match`` the deepest whose drafted tokens all equal the verification's
    predictions; ``lossless`` the deepest whose every depth is what one-token-per-step decoding would have
    committed (position and token), which reproduces k=1 exactly (needs psd_policy=top1)."""

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("strategy", self.strategy, STRATEGIES)
        _check_choice("score", self.score, SCORES)
        if self.k is not None and (not _is_int(self.k) or self.k <= 0):
            raise ConfigError(f"k={self.k!r} is invalid: k is the number of tokens committed per step and "
                              "must be an integer >= 1 (e.g. k=2).")
        if self.steps is not None and (not _is_int(self.steps) or self.steps < 1):
            raise ConfigError(f"steps={self.steps!r} is invalid: steps must be an integer >= 1 "
                              "(e.g. steps=64), or leave it out for one token per step.")
        if self.k is not None and self.steps is not None:
            raise ConfigError(f"k={self.k} and steps={self.steps} both set: give one of them "
                              "(k = tokens per step, steps = total denoising steps).")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError(f"threshold={self.threshold!r} is invalid: it must lie in (0, 1] "
                              "(e.g. threshold=0.9).")
        if not self.factor > 0.0:
            raise ConfigError(f"factor={self.factor!r} is invalid: it must be > 0 (e.g. factor=1.0).")
        _check_choice("factor_rule", self.factor_rule, FACTOR_RULES)
        if self.block_length is not None and (not _is_int(self.block_length) or self.block_length < 1):
            raise ConfigError(f"block_length={self.block_length!r} is invalid: it must be an integer >= 1 "
                              "(e.g. block_length=32), or leave it out for a single block.")
        _check_choice("cache", self.cache, CACHE_MODES)
        if self.cache != "none" and self.block_length is None:
            raise ConfigError(
                f"cache={self.cache} reuses keys/values across the steps of a semi-autoregressive block, so it "
                "needs block_length (e.g. block_length=32); set it, or use cache=none.")
        if not self.temperature >= 0.0:
            raise ConfigError(f"temperature={self.temperature!r} is invalid: it must be >= 0 "
                              "(0 = greedy).")
        if not _is_int(self.max_gen_toks) or self.max_gen_toks < 1:
            raise ConfigError(f"max_gen_toks={self.max_gen_toks!r} is invalid: it must be an integer >= 1.")
        thresholded = ("threshold", "factor", "klass", "edit") + (("psd",) if self.psd_policy == "threshold" else ())
        if self.strategy in thresholded and self.score not in PROBABILITY_SCORES:
            raise ConfigError(
                f"strategy={self.strategy} compares scores with a probability, so score={self.score} "
                f"cannot be used; choose score from {', '.join(PROBABILITY_SCORES)}.")
        # a model's own sampler (strategy=generate) maps steps itself, and its family refuses k
        stepped = QUOTA_STRATEGIES + MODEL_STRATEGIES
        if self.strategy not in stepped and (self.k is not None or self.steps is not None):
            knob = f"k={self.k}" if self.k is not None else f"steps={self.steps}"
            raise ConfigError(
                f"{knob} has no effect with strategy={self.strategy}, which decides how many tokens to "
                f"commit each step by itself; drop it, or use one of {', '.join(QUOTA_STRATEGIES)}.")
        _check_choice("remdm_variant", self.remdm_variant, REMDM_VARIANTS)
        for name in ("entropy_bound", "klass_kl", "remdm_eta"):
            if not getattr(self, name) >= 0.0:
                raise ConfigError(f"{name}={getattr(self, name)!r} is invalid: it must be >= 0.")
        if not 0.0 < self.klass_confidence <= 1.0:
            raise ConfigError(f"klass_confidence={self.klass_confidence!r} is invalid: it must lie in (0, 1].")
        if not 0.0 <= self.edit_threshold <= 1.0:
            raise ConfigError(f"edit_threshold={self.edit_threshold!r} is invalid: it must lie in [0, 1] "
                              "(0 edits every committed token the model now predicts differently).")
        if not 0.0 <= self.remdm_t_off <= self.remdm_t_on <= 1.0:
            raise ConfigError(f"remdm_t_off={self.remdm_t_off!r}, remdm_t_on={self.remdm_t_on!r} are invalid: "
                              "need 0 <= remdm_t_off <= remdm_t_on <= 1 (the window of diffusion times).")
        for name in ("klass_history", "max_edit_steps"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} is invalid: it must be an integer >= 0.")
        self._check_psd()

    def _check_psd(self) -> None:
        """psd's knobs, and the settings its batched verification cannot honour."""
        _check_choice("psd_policy", self.psd_policy, PSD_POLICIES)
        _check_choice("psd_accept", self.psd_accept, PSD_ACCEPT)
        if not _is_int(self.psd_depth) or not 1 <= self.psd_depth <= 64:
            raise ConfigError(f"psd_depth={self.psd_depth!r} is invalid: it must be an integer in [1, 64] "
                              "(drafts verified per forward, e.g. psd_depth=4).")
        if self.strategy != "psd":
            return
        if self.psd_accept == "lossless" and self.psd_policy != "top1":
            raise ConfigError("psd_accept=lossless reproduces one-token-per-step decoding, so every depth must "
                              f"unmask one position: psd_policy={self.psd_policy} cannot be used; set psd_policy=top1.")
        if self.cache != "none":
            raise ConfigError(f"strategy=psd verifies several drafts of a row in one forward, which cache={self.cache} "
                              "(one cached state per row) cannot feed; use cache=none.")
        if self.temperature != 0.0 or self.score == "random":
            bad = f"temperature={self.temperature}" if self.temperature != 0.0 else "score=random"
            raise ConfigError(f"strategy=psd compares drafts with greedy predictions, so {bad} cannot be used; use "
                              "temperature=0 and a deterministic score (confidence, margin, entropy, left_to_right).")

    def replace(self, **changes: Any) -> DecodeConfig:
        """A copy with ``changes`` applied (values from the CLI are coerced to the field types)."""
        return dataclasses.replace(self, **coerce(changes))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(cfg: DecodeConfig) -> None:
    """Every field has its declared type, and every number is finite.

    Why: range checks such as ``remdm_eta >= 0`` let ``inf`` through, and ``inf * 0`` is NaN (a loop
    that never commits); a float ``seed=1.5`` or a string would fail far from where it was given.
    """
    for f in fields(cfg):
        value, kind, optional = getattr(cfg, f.name), str(f.type), "None" in str(f.type)
        if value is None and optional:
            continue
        example = f"(default {f.default})" if f.default is not None else "or leave it out"
        if kind.startswith("int") and not _is_int(value):
            raise ConfigError(f"{f.name}={value!r} is invalid: it must be an integer {example}.")
        if kind.startswith("float") and not ((_is_int(value) or isinstance(value, float)) and (
                math.isfinite(value) or (f.name in UNBOUNDED_KNOBS and value == math.inf))):
            allowed = "a number or inf (no bound), not nan" if f.name in UNBOUNDED_KNOBS else \
                "a finite number (not inf or nan)"
            raise ConfigError(f"{f.name}={value!r} is invalid: it must be {allowed} {example}.")
        if kind == "str" and not isinstance(value, str):
            raise ConfigError(f"{f.name}={value!r} is invalid: it must be a string {example}.")


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is unknown; valid values: {', '.join(allowed)}.")


_REMDM, _KLASS, _EDIT = ("remdm",), ("klass",), ("edit",)
STRATEGY_KNOBS: dict[str, tuple[str, ...]] = {
    "threshold": ("threshold", "edit"), "factor": ("factor",), "entropy_bound": ("eb",),
    "klass_confidence": _KLASS, "klass_kl": _KLASS, "klass_history": _KLASS,
    "remdm_variant": _REMDM, "remdm_eta": _REMDM, "remdm_t_on": _REMDM, "remdm_t_off": _REMDM,
    "edit_threshold": _EDIT, "max_edit_steps": _EDIT,
    "score": tuple(s for s in ENGINE_STRATEGIES if s not in ("eb", "dilated", "remdm")),  # remdm draws at random
}
"""The engine strategies that read each strategy-specific knob (the others read every knob they have)."""


def ignored_knobs(cfg: DecodeConfig) -> list[str]:
    """``name=value`` of every knob set away from its default that ``cfg.strategy`` does not read.

    A model's own sampler (``strategy=generate``) is left to its family, which refuses what it cannot map.
    """
    if cfg.strategy in MODEL_STRATEGIES:
        return []
    return [f"{name}={getattr(cfg, name)!r}" for name, users in STRATEGY_KNOBS.items()
            if cfg.strategy not in users and getattr(cfg, name) != _DEFAULTS[name]]


def config_warnings(cfg: DecodeConfig, do_sample: bool | None) -> list[str]:
    """What a run should hear once: knobs its strategy ignores, and ``do_sample=True`` at temperature 0."""
    messages = []
    ignored = ignored_knobs(cfg)
    if ignored:
        messages.append(f"strategy={cfg.strategy} ignores {', '.join(ignored)}: drop them, or choose a strategy "
                        "that uses them (README, Strategies)")
    if do_sample and cfg.temperature == 0:
        messages.append("do_sample=True but temperature=0: decoding greedily; set temperature > 0 to sample "
                        "(e.g. --gen_kwargs temperature=1.0)")
    return messages


FIELD_NAMES = tuple(f.name for f in fields(DecodeConfig))
_DEFAULTS = {f.name: f.default for f in fields(DecodeConfig)}
_FIELD_TYPES = {f.name: f.type for f in fields(DecodeConfig)}


def coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Turn CLI strings (``"0.9"``, ``"None"``) into the field types; unknown keys are an error."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _FIELD_TYPES:
            raise ConfigError(f"unknown decoding option {key}={value!r}; valid options: "
                              f"{', '.join(FIELD_NAMES)}.")
        out[key] = _coerce_one(key, value, _FIELD_TYPES[key])
    return out


def _coerce_one(key: str, value: Any, type_name: Any) -> Any:
    type_name = str(type_name)
    if isinstance(value, str) and value.strip().lower() in ("none", "null", ""):
        if "None" in type_name:
            return None
        if type_name == "str" and value.strip().lower() == "none":
            return "none"  # a word some string knobs allow (cache=none); validation checks the rest
        raise ConfigError(f"{key} cannot be empty.")
    if not isinstance(value, str):
        if "int" in type_name and isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    try:
        if type_name.startswith("int"):
            return int(value)
        if type_name.startswith("float"):
            return float(value)
    except ValueError:
        kind = "an integer" if type_name.startswith("int") else "a number"
        raise ConfigError(f"{key}={value!r} is invalid: it must be {kind}.") from None
    return value


def int_arg(name: str, value: Any, minimum: int, fix: str) -> int | None:
    """A model argument that must be an integer >= ``minimum`` (None/"None"/"" = not given).

    ``fix`` says what the argument is for and what to write instead; the error repeats it.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return None
    number = value
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = value
    if not _is_int(number) or number < minimum:
        raise ConfigError(f"{name}={value!r} is invalid: it must be an integer >= {minimum}; {fix}.")
    return number


_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def bool_arg(name: str, value: Any) -> bool:
    """A model argument that must be a boolean: True/False (any case), 1/0 or yes/no."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE + _FALSE:
        return word in _TRUE
    raise ConfigError(f"{name}={value!r} is invalid: it must be a boolean, e.g. {name}=True or {name}=False "
                      f"(also accepted: {', '.join(_TRUE + _FALSE)}).")


def batch_size_arg(value: Any) -> str:
    """``batch_size``: an integer >= 1, ``auto``, or lm-eval's ``auto:N`` (N >= 1; we probe once, as ``auto``)."""
    text = str(value).strip().lower()
    if text == "auto":
        return text
    head, sep, tail = text.partition(":")
    try:
        if sep and head == "auto" and int(tail) >= 1:
            return text
        if not sep and int(float(text)) >= 1 and float(text).is_integer():
            return str(int(float(text)))
    except ValueError:
        pass
    raise ConfigError(f"batch_size={value!r} is invalid: use an integer >= 1 (e.g. --batch_size 8), auto or "
                      "auto:N (the largest power of two up to max_batch_size whose forward fits).")


def split_gen_kwargs(gen_kwargs: dict[str, Any]) -> tuple[dict[str, Any], list[str], int | None, bool | None]:
    """Split lm-eval's per-request ``gen_kwargs`` into (config overrides, until, max_gen_toks, do_sample).

    ``temperature`` alone decides sampling: ``do_sample`` (which task YAMLs set, ours to ``false``) never
    overrides an explicit temperature, and with our default temperature 0 ``do_sample=false`` is greedy
    anyway; ``do_sample=true`` with temperature 0 is refused by the model (see ``MDLM._prepare``), which
    knows the temperature of ``--model_args`` too. Other HF keys we cannot honour (``top_p``,
    ``num_beams``, ...) are an error rather than silently ignored.
    """
    kwargs = dict(gen_kwargs)
    until = kwargs.pop("until", None)
    if isinstance(until, str):
        until = [until]
    until = list(until or [])
    max_gen_toks = kwargs.pop("max_gen_toks", None)
    max_new_tokens = kwargs.pop("max_new_tokens", None)
    name = "max_gen_toks" if max_gen_toks is not None else "max_new_tokens"
    max_gen_toks = int_arg(name, max_gen_toks if max_gen_toks is not None else max_new_tokens, 1,
                           "it is the answer length in tokens (e.g. max_gen_toks=256)")
    do_sample = kwargs.pop("do_sample", None)
    unknown = [key for key in kwargs if key not in FIELD_NAMES]
    if unknown:
        raise ConfigError(
            f"generation option(s) {', '.join(sorted(unknown))} are not supported by --model mdlm; "
            f"supported: {', '.join(_HF_KEYS + FIELD_NAMES)}. Remove them from the task's "
            "generation_kwargs or --gen_kwargs.")
    return coerce(kwargs), until, max_gen_toks, None if do_sample is None else bool_arg("do_sample", do_sample)
