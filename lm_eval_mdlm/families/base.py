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

PREVIOUS_TOKEN_TYPES = "previous"
"""``config.mdlm_token_types`` of a checkpoint trained with :func:`previous_token_types` as its token types
(families/bert.py says why)."""
TYPE_SKIP_KEY = "mdlm_token_types_skip"
"""Optional config key beside it: the token ids a type passes over (a token's type is then the last id before
it *not* in this list, e.g. the previous word past punctuation, and a listed token has none)."""
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
    eos_tokens: tuple[tuple[str, int], ...] = ()
    """(token string, released id) pairs that end an answer (EOS, end of turn)."""
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


def previous_token_types(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int,
                         skip: torch.Tensor | None = None) -> torch.Tensor:
    """``token_type_ids`` whose entry ``i`` is ``input_ids[:, i - 1]``, or with ``skip`` (a (V,) bool table):
    for a token ``skip`` does not mark, the last real id before it that ``skip`` does not mark, and for a
    marked token ``pad_id``. A token with nothing before it and padding get ``pad_id``, so a left-padded
    row sees what it sees unpadded.

    With punctuation skipped, the first name after ``Morris", "`` has type `` Morris``: the person before
    it, which is what copying a list needs to chain from one name to the next (families/bert.py). The
    punctuation itself gets no type, so that the first name is the only token in the list whose type is
    `` Morris`` (as the last name is the only one typed by its first name): with ``",`` and `` "`` typed
    `` Morris`` as well, two of three matches are punctuation, and a model whose lookup matches types put
    ``"]`` or ``",`` into 60 of 72 first-name slots (recipe.py, which also says that neither way made the
    first-name chain form in the steps tried).
    """
    real = attention_mask.bool()
    counted = real if skip is None else real & ~skip.to(input_ids.device)[input_ids]
    index = torch.arange(input_ids.shape[1], device=input_ids.device).expand_as(input_ids)
    last = torch.where(counted, index, -1).cummax(1).values  # last counted position at or before i
    before = torch.nn.functional.pad(last[:, :-1], (1, 0), value=-1)
    types = input_ids.gather(1, before.clamp_min(0))
    return torch.where((before >= 0) & counted, types, pad_id)


def token_types(config: Any, vocab_size: int) -> tuple[bool, torch.Tensor | None]:
    """A checkpoint's token-type convention, checked once for the engine and for training alike: whether it
    takes :func:`previous_token_types`, and the (V,) bool table of ``config.mdlm_token_types_skip`` (None
    without that key). Raises naming the key for a convention this engine does not know, a skip list
    without it, or ids outside the vocabulary (an index error deep in a forward would not say which)."""
    kind = getattr(config, "mdlm_token_types", None)
    if kind not in (None, PREVIOUS_TOKEN_TYPES):
        raise ConfigError(f"config.mdlm_token_types={kind!r} is not a token-type convention this engine knows; "
                          f"valid: {PREVIOUS_TOKEN_TYPES!r} (token_type_ids = the previous input id, "
                          "families/bert.py) or no such key.")
    ids = getattr(config, TYPE_SKIP_KEY, None)
    if ids is None:
        return kind == PREVIOUS_TOKEN_TYPES, None
    if kind is None:
        raise ConfigError(f"config.{TYPE_SKIP_KEY} is set but config.mdlm_token_types=None; the skip list "
                          f"only applies to mdlm_token_types={PREVIOUS_TOKEN_TYPES!r}. Fix config.json.")
    bad = [i for i in ids if not (isinstance(i, int) and 0 <= i < vocab_size)]
    if bad:
        raise ConfigError(f"config.{TYPE_SKIP_KEY} holds {bad[:5]}, which are not token ids of this vocabulary "
                          f"(0..{vocab_size - 1}); it lists the ids a token type passes over (families/bert.py). "
                          "Fix or remove the key in config.json.")
    table = torch.zeros(vocab_size, dtype=torch.bool)
    table[list(ids)] = True
    return True, table


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
        # transformers' own decoders project only the rows' chosen positions onto the vocabulary when given a 2-D
        # ``logits_to_keep`` (remote code may take an int only): with a 126k vocabulary, full-canvas logits
        # are most of a step's activation memory, and the loop only reads its window.
        self._keep = "logits_to_keep" in params and type(model).__module__.startswith("transformers.models.")
        config = getattr(model, "config", None)
        self._previous_types, self._type_skip = token_types(config, getattr(config, "vocab_size", 0))

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
            from lm_eval_mdlm.families.block_causal import block_causal_4d  # builds on this module

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
        if self._previous_types:
            if attention_mask.dim() != 2 or kv is not None:
                raise ConfigError("a checkpoint with config.mdlm_token_types='previous' needs whole rows and a "
                                  "2-D padding mask (family=masked_lm, cache=none), since each token's type is "
                                  "the id before it.")
            kwargs["token_type_ids"] = previous_token_types(input_ids, attention_mask, self.pad_id, self._type_skip)
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
