"""The one decoding configuration object shared by the CLI, the Python API and the engine.

Its field names are the ``--model_args`` / ``--gen_kwargs`` keys, so ``strategy=threshold,threshold=0.8``
on the command line and ``DecodeConfig(strategy="threshold", threshold=0.8)`` in Python mean the same
thing. Validation lives here, once: the shared fields' checks below, and every strategy knob's check
from its declaration (:mod:`lm_eval_mdlm.decoding.strategies`, which ``DecodeConfig``'s strategy fields are
built from). Every error names the bad value, what is allowed and how to fix it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from lm_eval_mdlm.decoding import strategies
from lm_eval_mdlm.decoding.rules import SCORE_RULES
from lm_eval_mdlm.decoding.strategies.spec import check_choice, require_probability
from lm_eval_mdlm.errors import ConfigError

STRATEGIES = tuple(strategies.REGISTRY)
# Strategies run by a model's own sampler (its ``generate()``) instead of the engine's loop; the family
# that has one maps our knobs onto it and refuses the others (docs/families.md, DiffusionGemma).
MODEL_STRATEGIES = tuple(name for name, spec in strategies.REGISTRY.items() if spec.sampler is None)
ENGINE_STRATEGIES = tuple(s for s in STRATEGIES if s not in MODEL_STRATEGIES)
QUOTA_STRATEGIES = tuple(name for name, spec in strategies.REGISTRY.items() if spec.quota)
CACHE_MODES = ("none", "prefix", "dual")
SCORES = tuple(SCORE_RULES)

# Upper bounds for which inf means "no bound" (klass_kl=inf turns KLASS into threshold); every other
# number must be finite: remdm_eta=inf made unmask probabilities NaN (inf * 0) and the loop never ended.
UNBOUNDED_KNOBS = tuple(name for name, knob in strategies.KNOBS.items() if knob.unbounded)

# lm-eval / HF generation keys we accept in gen_kwargs besides our own fields.
_HF_KEYS = ("until", "max_gen_toks", "do_sample", "max_new_tokens")


@dataclass(frozen=True)
class _SharedConfig:
    """The fields every strategy shares; :data:`DecodeConfig` adds each strategy's knobs from the registry."""

    strategy: str = "topk"
    """Which rule decides what a step commits: a module of :mod:`lm_eval_mdlm.decoding.strategies`; ``generate``
    runs the model's own sampler instead of the engine (DiffusionGemma's default and only one; docs/families.md)."""
    score: str = "confidence"
    """Which masked positions are most ready: p(x0) ``confidence``, top-1 minus top-2 ``margin``,
    negative ``entropy``, ``random`` (seeded) or ``left_to_right``."""
    k: int | None = None
    """Quota strategies: tokens committed per step (the last step of a block takes the remainder)."""
    steps: int | None = None
    """Quota strategies: total denoising steps over the answer, split over blocks; per block base = n // s and
    the first n % s steps take one more (LLaDA's ``get_num_transfer_tokens``). Default: one token per step."""
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

    def __post_init__(self) -> None:
        _check_types(self)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_choice("score", self.score, SCORES)
        self._check_budget()
        if self.block_length is not None and (not _is_int(self.block_length) or self.block_length < 1):
            raise ConfigError(f"block_length={self.block_length!r} is invalid: it must be an integer >= 1 "
                              "(e.g. block_length=32), or leave it out for a single block.")
        check_choice("cache", self.cache, CACHE_MODES)
        if self.cache != "none" and self.block_length is None:
            raise ConfigError(
                f"cache={self.cache} reuses keys/values across the steps of a semi-autoregressive block, so it "
                "needs block_length (e.g. block_length=32); set it, or use cache=none.")
        if not self.temperature >= 0.0:
            raise ConfigError(f"temperature={self.temperature!r} is invalid: it must be >= 0 "
                              "(0 = greedy).")
        if not _is_int(self.max_gen_toks) or self.max_gen_toks < 1:
            raise ConfigError(f"max_gen_toks={self.max_gen_toks!r} is invalid: it must be an integer >= 1.")
        for knob in strategies.KNOBS.values():  # every strategy's knobs, whichever strategy is chosen
            knob.check(getattr(self, knob.name))
        if strategies.REGISTRY[self.strategy].probability:
            require_probability(self)
        for spec in strategies.REGISTRY.values():
            if spec.check is not None:
                spec.check(self)

    def _check_budget(self) -> None:
        """``k`` / ``steps``: valid, not both, and only for strategies whose budget they set."""
        if self.k is not None and (not _is_int(self.k) or self.k <= 0):
            raise ConfigError(f"k={self.k!r} is invalid: k is the number of tokens committed per step and "
                              "must be an integer >= 1 (e.g. k=2).")
        if self.steps is not None and (not _is_int(self.steps) or self.steps < 1):
            raise ConfigError(f"steps={self.steps!r} is invalid: steps must be an integer >= 1 "
                              "(e.g. steps=64), or leave it out for one token per step.")
        if self.k is not None and self.steps is not None:
            raise ConfigError(f"k={self.k} and steps={self.steps} both set: give one of them "
                              "(k = tokens per step, steps = total denoising steps).")
        # a model's own sampler (strategy=generate) maps steps itself, and its family refuses k
        if self.strategy not in QUOTA_STRATEGIES + MODEL_STRATEGIES and (self.k is not None or self.steps is not None):
            knob = f"k={self.k}" if self.k is not None else f"steps={self.steps}"
            raise ConfigError(
                f"{knob} has no effect with strategy={self.strategy}, which decides how many tokens to "
                f"commit each step by itself; drop it, or use one of {', '.join(QUOTA_STRATEGIES)}.")

    def replace(self, **changes: Any) -> DecodeConfig:
        """A copy with ``changes`` applied (values from the CLI are coerced to the field types)."""
        return dataclasses.replace(self, **coerce(changes))


DecodeConfig = dataclasses.make_dataclass(
    "DecodeConfig", [(k.name, k.kind, dataclasses.field(default=k.default)) for k in strategies.KNOBS.values()],
    bases=(_SharedConfig,), frozen=True, namespace={"__module__": __name__, "__doc__": """How to turn a fully masked
    answer into tokens: the shared fields of ``_SharedConfig`` and every strategy's knobs (their modules in
    :mod:`lm_eval_mdlm.decoding.strategies` declare them, with defaults and validation).

    Defaults reproduce LLaDA's reference ``generate()`` (GSAI-ML/LLaDA, generate.py): one block over the
    whole answer, one token per step, low-confidence remasking (commit the most confident masked
    position), greedy."""})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_types(cfg: _SharedConfig) -> None:
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


def check_strategy(strategy: str, family: str, allowed: tuple[str, ...], note: str | None = None) -> None:
    """Raise a :class:`ConfigError` unless ``strategy`` is one a model of ``family`` decodes with (``allowed``);
    ``note`` says why the others cannot run."""
    if strategy not in allowed:
        raise ConfigError(f"strategy={strategy!r} cannot be used with family={family}: supported strategies: "
                          f"{', '.join(allowed)}." + (f" {note}." if note else ""))


def ignored_knobs(cfg: DecodeConfig) -> list[str]:
    """``name=value`` of every knob set away from its default that ``cfg.strategy`` does not read.

    A model's own sampler (``strategy=generate``) is left to its family, which refuses what it cannot map.
    """
    if cfg.strategy in MODEL_STRATEGIES:
        return []
    unread = [name for name in strategies.KNOBS if cfg.strategy not in strategies.users(name)]
    if not strategies.REGISTRY[cfg.strategy].scored:
        unread.append("score")
    return [f"{name}={getattr(cfg, name)!r}" for name in unread if getattr(cfg, name) != _DEFAULTS[name]]


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
SHARED_FIELDS = tuple(f.name for f in fields(_SharedConfig))
"""The fields every strategy shares (the others are strategy knobs, from the registry)."""
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
