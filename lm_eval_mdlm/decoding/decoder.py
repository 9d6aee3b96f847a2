"""What ``--model mdlm`` asks of a loaded model: the :class:`Decoder` interface.

One method decodes: :meth:`Decoder.decode` turns a batch of prompts into answers plus per-row traces
(:class:`~lm_eval_mdlm.decoding.loop.DecodeOutput`). Two kinds of models implement it:

* :class:`EngineDecoder`: a model with a masked-canvas forward (``self(input_ids, attention_mask) -> logits``,
  every checkpoint family but DiffusionGemma, and the oracles); ``decode`` runs this package's engine
  (:func:`~lm_eval_mdlm.decoding.loop.denoise`) over that forward;
* a model with its own sampler and no such forward (DiffusionGemma's ``generate()``), which implements
  ``decode`` itself and nothing it cannot run.

Every capability the glue layer needs is declared here with a default, so callers never probe for attributes:
a model overrides only what differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from lm_eval_mdlm.config import ENGINE_STRATEGIES, ConfigError, DecodeConfig, check_strategy
from lm_eval_mdlm.decoding.loop import DecodeOutput, denoise, no_kv_cache
from lm_eval_mdlm.decoding.schedule import Schedule, make_schedule


class Decoder(ABC):
    """A loaded model as the glue layer sees it: ids, tokenizer, what it can run, and :meth:`decode`."""

    family: str
    """The model family's name (results and error messages)."""
    tokenizer: Any
    mask_id: int | None
    """The token the model denoises; None for a model without one (DiffusionGemma)."""
    pad_id: int
    eos_ids: tuple[int, ...]
    max_length: int
    """Prompt + answer tokens the model takes at most."""
    model: torch.nn.Module | None = None
    """The torch module, where there is one: its position limit bounds ``max_length``."""
    strategies: tuple[str, ...] = ENGINE_STRATEGIES
    """Strategies the model decodes with."""
    default_strategy: str | None = None
    """The strategy when none is given (DiffusionGemma: its own ``generate``); None: the :class:`DecodeConfig`
    default."""
    block_causal: bool = False
    """Block-causal attention: schedules align their blocks to the model's (:func:`make_schedule`)."""

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Where inputs go."""

    def decode_config(self, config: DecodeConfig) -> DecodeConfig:
        """``config`` as this model decodes it (checked at load and per request); raises for a strategy it cannot
        run. Default: any of :attr:`strategies`, unchanged."""
        check_strategy(config.strategy, self.family, self.strategies)
        return config

    def check_cache(self, mode: str) -> None:
        """Raise a clear error for a ``cache=`` mode the model cannot run. Default: ``cache=none`` only."""
        if mode != "none":
            raise no_kv_cache(mode, self.family)

    def likelihood_forward(self) -> EngineDecoder:
        """The masked-canvas forward the likelihood estimators score with (:mod:`lm_eval_mdlm.likelihood`), or a
        clear error for a model without one. Default: the error."""
        raise ConfigError(f"loglikelihood requests cannot be scored with family={self.family}: the likelihood "
                          "estimators need a masked-canvas forward, which this model does not have. Run generation "
                          "tasks (generate_until).")

    def largest_batch(self, limit: int, width: int) -> int:
        """The largest batch of ``width``-token rows, up to ``limit``, that fits in memory (``batch_size=auto``).
        Default: ``limit`` (nothing to probe)."""
        return limit

    def schedule(self, config: DecodeConfig, length: int) -> Schedule:
        """The block and step plan of ``length``-token answers under ``config``."""
        return make_schedule(config, length, aligned=self.block_causal)

    @abstractmethod
    def decode(self, prompts: Sequence[Sequence[int]], config: DecodeConfig, schedule: Schedule, *,
               keys: Sequence[int]) -> DecodeOutput:
        """Answers of ``schedule.length`` tokens for ``prompts`` (token ids), with their traces; ``keys`` (one per
        row, :func:`~lm_eval_mdlm.decoding.noise.row_keys`) seed each row's randomness, so no output depends on
        the batch."""


class EngineDecoder(Decoder):
    """A model with a masked-canvas forward, decoded by the engine."""

    window_head: bool = False
    """``__call__`` takes ``window=`` (logits at those columns only); the loop then asks for the window's only."""

    @abstractmethod
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, L, V) of a left-padded batch, ``logits[:, i]`` predicting token ``i``."""

    def likelihood_forward(self) -> EngineDecoder:
        """This model: its forward is what the likelihood estimators need."""
        return self

    def decode(self, prompts: Sequence[Sequence[int]], config: DecodeConfig, schedule: Schedule, *,
               keys: Sequence[int]) -> DecodeOutput:
        """The engine's :func:`~lm_eval_mdlm.decoding.loop.denoise` over this forward."""
        assert self.mask_id is not None, "an engine-decoded model has a mask token"
        return denoise(self, prompts, config, schedule, mask_id=self.mask_id, pad_id=self.pad_id,
                       eos_ids=self.eos_ids, keys=keys, device=self.device)

    def largest_batch(self, limit: int, width: int) -> int:
        """``limit``, halved until a forward over that many all-mask rows runs without running out of memory."""
        size = limit
        probe = torch.full((1, width), self.mask_id if self.mask_id is not None else self.pad_id,
                           device=self.device)
        while size > 1:
            try:
                self(probe.expand(size, -1), torch.ones_like(probe, dtype=torch.bool).expand(size, -1))
                break
            except torch.OutOfMemoryError:
                size //= 2
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        return size
