"""The family contract and the :class:`Denoiser` that applies it.

Every MDLM family differs in a handful of conventions that silently ruin scores when wrong: which
token is the mask, which tokens end an answer, whether logit ``i`` predicts token ``i`` or ``i+1``
(Dream inherits an AR head), whether the model wants a 2-D padding mask or a 4-D ``(B, 1, L, L)``
mask, and whether it takes position ids. A :class:`Family` records these facts once; the
:class:`Denoiser` turns them into the single call the engine and the likelihood code make:
``denoiser(input_ids, attention_mask) -> logits`` with ``logits[:, i]`` predicting token ``i``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from lm_eval_mdlm.config import ENGINE_STRATEGIES, MODEL_STRATEGIES, ConfigError, DecodeConfig

DTYPES = {"auto": "auto", "bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}

MASK_LAYOUTS = ("2d", "4d")
POSITION_MODES = ("none", "cumsum", "auto")


@dataclass(frozen=True)
class Family:
    """Conventions of one model family (values cited from its public code in the family's module)."""

    name: str
    model_types: tuple[str, ...] = ()
    """``config.model_type`` values (compared lower-case) that select this family."""
    architectures: tuple[str, ...] = ()
    """``config.architectures`` entries that select this family."""
    mask_token: str | None = None
    """Mask token string, looked up in the tokenizer (a tiny test vocabulary has other ids)."""
    mask_id: int | None = None
    """Mask id of the released checkpoints; used when neither tokenizer nor config names one."""
    eos_tokens: tuple[tuple[str, int | None], ...] = ()
    """(token string, released id) pairs that end an answer (EOS, end of turn); a None id: only where the
    tokenizer has the string (DiffuCoder's ``<|dlm_pad|>``, absent from Dream's vocabulary)."""
    shift_logits: bool = False
    """True when logit ``i-1`` predicts token ``i`` (heads inherited from an AR model)."""
    mask_layout: str = "2d"
    """``2d``: (B, L) padding mask; ``4d``: (B, 1, L, L) bool, True = may attend."""
    positions: str = "auto"
    """``cumsum``: pass ``position_ids = cumsum(mask) - 1``; ``none``: never; ``auto``: if accepted."""
    pad_position: int = 0
    """Position id given to padding (irrelevant to real tokens; Dream's sampler uses 1)."""
    auto_class: str = "AutoModelForMaskedLM"
    """transformers auto class used when the checkpoint's own code (or transformers) loads it."""
    native: Callable[..., torch.nn.Module] | None = None
    """Loads the checkpoint into transformers' own modules without remote code (None: no such path)."""
    unsupported: str | None = None
    """Why this family cannot run yet (recognised so that it fails loudly instead of silently)."""
    strategies: tuple[str, ...] | None = None
    """Decoding strategies that work with this family; None = every strategy the engine runs. The first
    one is the family's default when ``strategy`` is not given."""
    strategy_note: str | None = None
    """Why the strategies outside ``strategies`` cannot run (appended to :meth:`check_strategy`'s error)."""
    load: Callable[..., Any] | None = None
    """Loads the checkpoint into a denoiser of the family's own (families decoded by their own sampler,
    e.g. DiffusionGemma's ``generate()``); None: ``load_denoiser`` builds a :class:`Denoiser`."""
    kv_cache: bool = False
    """The loaded module is one of transformers' decoders, whose attention layers call
    ``cache.update(keys, values, layer)`` with rotated keys, so ``cache=prefix|dual`` can drive it.
    Set by native loading; a checkpoint's own (remote) code or a masked LM has no such hook."""
    block_length: int | None = None
    """Block-diffusion families (SDAR, LLaDA 2.x): attention is block-causal over blocks of this many
    positions aligned to each row's first real token (:mod:`~lm_eval_mdlm.families.block_causal`), and
    the decoding blocks are the same blocks. The released checkpoints' size; ``block_size`` or
    ``block_length`` in config.json replaces it. None: bidirectional attention."""

    def __post_init__(self) -> None:
        if self.mask_layout not in MASK_LAYOUTS:
            raise ValueError(f"{self.name}: mask_layout={self.mask_layout!r}; valid: {', '.join(MASK_LAYOUTS)}")
        if self.positions not in POSITION_MODES:
            raise ValueError(f"{self.name}: positions={self.positions!r}; valid: {', '.join(POSITION_MODES)}")

    def matches(self, config: dict[str, Any]) -> bool:
        """Whether a checkpoint's ``config.json`` belongs to this family."""
        model_type = str(config.get("model_type") or "").lower()
        archs = set(config.get("architectures") or ())
        return model_type in self.model_types or bool(archs & set(self.architectures))

    def check_strategy(self, strategy: str) -> None:
        """Raise a clear error for a strategy this family cannot decode with.

        A model's own sampler (``strategy=generate``) runs only where the family lists it."""
        allowed = self.strategies if self.strategies is not None else ENGINE_STRATEGIES
        if strategy not in allowed:
            note = self.strategy_note or (
                f"strategy={strategy} runs a model's own sampler, which family={self.name} does not have here "
                "(docs/families.md)" if strategy in MODEL_STRATEGIES else "")
            raise ConfigError(f"strategy={strategy!r} cannot be used with family={self.name}: "
                              f"supported strategies: {', '.join(allowed)}." + (f" {note}." if note else ""))


def token_id(tokenizer: Any, token: str | None) -> int | None:
    """The id of ``token`` if the tokenizer knows it as a whole token, else None."""
    if token is None:
        return None
    vocab = tokenizer.get_vocab()
    return vocab.get(token)


def left_positions(attention_mask: torch.Tensor, pad_position: int = 0) -> torch.Tensor:
    """Position ids that restart at 0 on each row's first real token (left padding is invisible)."""
    am = attention_mask.bool()
    return (am.long().cumsum(-1) - 1).masked_fill(~am, pad_position)


def bidirectional_4d(attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, 1, L, L) bool mask, True = query may attend key: real tokens see every real token.

    This is the layout Dream's own ``diffusion_generate`` builds (``am[:,None,None,:] & am[:,None,:,None]``).
    """
    am = attention_mask.bool()
    return am[:, None, None, :] & am[:, None, :, None]


def unshift(logits: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Align an AR-style head (logit ``i-1`` predicts token ``i``) so that logit ``i`` predicts ``i``.

    Dream's sampler does ``cat([logits[:, :1], logits[:, :-1]], 1)``: position 0 keeps its own
    logit. Under left padding each row's first *real* token plays that role, so we keep its own logit
    there too; a padded row then matches the same row unpadded at every real position.
    """
    aligned = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
    first = attention_mask.bool().long().argmax(1)
    rows = torch.arange(logits.shape[0], device=logits.device)
    aligned[rows, first] = logits[rows, first]
    return aligned


class Denoiser:
    """A bidirectional denoiser behind the engine's ``Forward`` interface (aligned logits).

    The family decides the mask layout, position ids and logit alignment; callers always pass a
    (B, L) bool mask of a left-padded batch.
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any, mask_id: int, eos_ids: tuple[int, ...],
                 pad_id: int, max_length: int, family: str | Family) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.mask_id = mask_id
        self.eos_ids = eos_ids
        self.pad_id = pad_id
        self.max_length = max_length
        self.spec = family if isinstance(family, Family) else Family(name=str(family))
        self.family = self.spec.name
        params = inspect.signature(model.forward).parameters
        # Models with learned absolute positions (BERT) are wrong under left padding unless each
        # row's positions start at its first real token; RoPE models accept them harmlessly (and then
        # a row's logits do not depend on how much padding its batch has).
        self._position_ids = self.spec.positions == "cumsum" or (
            self.spec.positions == "auto" and "position_ids" in params)
        # remote LLaDA under transformers 5 needs use_cache=False spelled out (no config.use_cache).
        self._use_cache = "use_cache" in params
        # transformers renamed ``past_key_values`` to ``cache`` (5.x keeps the old name as an alias).
        self._cache_arg = next((name for name in ("cache", "past_key_values") if name in params), None)
        if getattr(getattr(model, "config", None), "mdlm_token_types", None) is not None:
            raise ConfigError("config.mdlm_token_types is set: this checkpoint was trained with a research input "
                              "convention (research/default_model/token_types.py) that the engine does not feed; "
                              "its logits would be wrong. Evaluate a checkpoint without that key.")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def decode_config(self, config: DecodeConfig) -> DecodeConfig:
        """``config`` as this model decodes it; raises for a strategy its family cannot run.
        Block-causal models decode in their attention blocks unless ``block_length`` is given."""
        self.spec.check_strategy(config.strategy)
        if self.block_causal and config.block_length is None:
            return config.replace(block_length=self.spec.block_length)
        return config

    @property
    def block_causal(self) -> bool:
        """Whether attention is block-causal: the decoding loop then aligns its blocks to the model's."""
        return self.spec.block_length is not None

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, kv: Any = None) -> torch.Tensor:
        """Aligned logits of a left-padded batch; ``kv`` (a KV-cache refresh) sees every layer's keys/values."""
        am = attention_mask.bool()
        if self.block_causal:
            from lm_eval_mdlm.families.block_causal import block_causal_4d  # builds on this module

            mask = block_causal_4d(am, self.spec.block_length)
        else:
            mask = bidirectional_4d(am) if self.spec.mask_layout == "4d" else am.long()
        positions = left_positions(am, self.spec.pad_position) if self._position_ids else None
        logits = self.logits(input_ids, mask, positions, kv=kv)
        return unshift(logits, am) if self.spec.shift_logits else logits

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None,
               kv: Any = None) -> torch.Tensor:
        """The module's own (possibly shifted) logits for a mask already in the family's layout.

        ``kv`` is passed as the module's cache: an object whose ``update(keys, values, layer_idx)`` each
        attention layer calls (:mod:`lm_eval_mdlm.families.cache`).
        """
        kwargs: dict[str, Any] = {"attention_mask": attention_mask}
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if self._use_cache:
            kwargs["use_cache"] = False
        if kv is not None:
            kwargs[self._cache_arg] = kv
        return self.model(input_ids=input_ids, **kwargs).logits

    def check_cache(self, mode: str) -> None:
        """Raise a clear error for a ``cache=`` mode this model cannot run (checked before any forward)."""
        if mode == "none" or (self.spec.kv_cache and self._cache_arg is not None):
            return
        from lm_eval_mdlm.families.loading import FAMILIES  # the registry imports this module

        name = self.spec.name
        if self.spec.native is not None:
            why = (f"family={name}:remote runs the checkpoint's own modeling code, whose attention layers the "
                   f"cache cannot feed; load it natively (family={name}, without ':remote')")
        else:
            why = f"family={name} has no KV cache this engine can drive"
        supported = ", ".join(f.name for f in FAMILIES.values() if f.native is not None)
        raise ConfigError(f"cache={mode} cannot be used here: {why}. Use cache=none, or a checkpoint of a "
                          f"family that supports KV caching when loaded natively: {supported}.")

    def block_cache(self, mode: str, batch: int, block_length: int | None = None) -> Any:
        """The forward of one ``denoise`` call over ``batch`` rows: for bidirectional models the
        approximate cache of :mod:`~lm_eval_mdlm.families.cache`; for block-causal models (which pass
        the decoding ``block_length``) the exact block cache of :mod:`~lm_eval_mdlm.families.block_causal`,
        which also serves ``cache=none`` (nothing stored)."""
        from lm_eval_mdlm.families.block_causal import BlockCausalForward  # both build on this module
        from lm_eval_mdlm.families.cache import BlockCache

        self.check_cache(mode)
        if self.block_causal:
            return BlockCausalForward(self, batch, block_length or self.spec.block_length, store=mode != "none")
        return BlockCache(self, mode, batch)
