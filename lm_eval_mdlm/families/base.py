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
from typing import Any

import torch

from lm_eval_mdlm.config import ENGINE_STRATEGIES, ConfigError, DecodeConfig
from lm_eval_mdlm.decoding.decoder import EngineDecoder
from lm_eval_mdlm.families.block_causal import BlockCausalForward, block_causal_4d
from lm_eval_mdlm.families.cache import BlockCache
from lm_eval_mdlm.families.registry import FAMILIES
from lm_eval_mdlm.families.spec import Family, left_positions


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


class Denoiser(EngineDecoder):
    """A checkpoint's module behind the engine's ``Forward`` interface (aligned logits), decoded by the engine.

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
        self.strategies = self.spec.strategies or ENGINE_STRATEGIES
        self.default_strategy = self.spec.strategies[0] if self.spec.strategies else None
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
        # transformers' own decoders project only the rows' chosen positions onto the vocabulary when given a 2-D
        # ``logits_to_keep`` (remote code may take an int only): with a 126k vocabulary, full-canvas logits
        # are most of a step's activation memory, and the loop only reads its window.
        self._keep = "logits_to_keep" in params and type(model).__module__.startswith("transformers.models.")

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
    def block_causal(self) -> bool:  # type: ignore[override]
        """Whether attention is block-causal: the decoding loop then aligns its blocks to the model's."""
        return self.spec.block_length is not None

    window_head = True
    """``__call__`` takes ``window=``: the decoding loop asks for the window's logits only."""

    @torch.inference_mode()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, kv: Any = None,
                 window: torch.Tensor | None = None) -> torch.Tensor:
        """Aligned logits of a left-padded batch; ``kv`` (a KV-cache refresh) sees every layer's keys/values.

        With ``window`` ((B, W) columns), only the logits there: (B, W, V), equal to the full logits gathered at
        ``window``, but computed only at those positions where the module can (:meth:`logits`)."""
        am = attention_mask.bool()
        if self.block_causal:
            mask = block_causal_4d(am, self.spec.block_length)
        else:
            mask = bidirectional_4d(am) if self.spec.mask_layout == "4d" else am.long()
        positions = left_positions(am, self.spec.pad_position) if self._position_ids else None
        if window is not None:  # a shifted head's logit i - 1 predicts i, except at the first real token (unshift)
            keep = window
            if self.spec.shift_logits:
                keep = torch.where(window == am.long().argmax(1, keepdim=True), window, window - 1)
            return self.logits(input_ids, mask, positions, kv=kv, keep=keep)
        logits = self.logits(input_ids, mask, positions, kv=kv)
        return unshift(logits, am) if self.spec.shift_logits else logits

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor | None,
               kv: Any = None, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The module's own (possibly shifted) logits for a mask already in the family's layout.

        ``kv`` is passed as the module's cache: an object whose ``update(keys, values, layer_idx)`` each
        attention layer calls (:mod:`lm_eval_mdlm.families.cache`). ``keep`` ((B, K) input columns): return
        only the logits there, (B, K, V); transformers' decoders compute nothing else, other modules' full
        logits are gathered.
        """
        kwargs: dict[str, Any] = {"attention_mask": attention_mask}
        if position_ids is not None:
            kwargs["position_ids"] = position_ids
        if self._use_cache:
            kwargs["use_cache"] = False
        if kv is not None:
            kwargs[self._cache_arg] = kv
        if keep is not None and self._keep:
            kwargs["logits_to_keep"] = keep
        logits = self.model(input_ids=input_ids, **kwargs).logits
        if keep is None or self._keep:
            return logits
        return logits.gather(1, keep[:, :, None].expand(-1, -1, logits.shape[-1]))

    def check_cache(self, mode: str) -> None:
        """Raise a clear error for a ``cache=`` mode this model cannot run (checked before any forward)."""
        if mode == "none" or (self.spec.kv_cache and self._cache_arg is not None):
            return
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
        self.check_cache(mode)
        if self.block_causal:
            return BlockCausalForward(self, batch, block_length or self.spec.block_length, store=mode != "none")
        return BlockCache(self, mode, batch)
