"""A model family's facts (:class:`Family`) and the small helpers every family module shares.

A leaf of the families package: family modules, the block-causal and cache forwards and the registry build
on it, and it imports nothing of theirs, so none of them needs an import inside a function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from lm_eval_mdlm.config import ENGINE_STRATEGIES, MODEL_STRATEGIES, check_strategy

if TYPE_CHECKING:
    from lm_eval_mdlm.decoding.decoder import Decoder

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
    load: Callable[..., Decoder] | None = None
    """Loads the checkpoint into a decoder of the family's own (families decoded by their own sampler,
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
        note = self.strategy_note or (
            f"strategy={strategy} runs a model's own sampler, which family={self.name} does not have here "
            "(docs/families.md)" if strategy in MODEL_STRATEGIES else None)
        check_strategy(strategy, self.name, self.strategies if self.strategies is not None else ENGINE_STRATEGIES,
                       note)


def left_positions(attention_mask: torch.Tensor, pad_position: int = 0) -> torch.Tensor:
    """Position ids that restart at 0 on each row's first real token (left padding is invisible)."""
    am = attention_mask.bool()
    return (am.long().cumsum(-1) - 1).masked_fill(~am, pad_position)
