"""Block-wise approximate KV caching (``cache=prefix|dual``) for families run on transformers' decoders.

Fast-dLLM (Wu et al. 2025, arXiv 2505.22618, "Key-Value Cache for Block-Wise Decoding", Fig. 2)
observes that under semi-autoregressive decoding the keys/values of tokens outside the current block
barely change between the steps of that block, and reuses them:

- on a row's **first step in a block** (the *refresh*) it runs a full forward over the row; that
  forward gives the step's logits and stores every position's keys/values;
- on its **other steps in the block** it feeds only some tokens, which attend to their own fresh
  keys/values plus stored ones: ``prefix`` feeds the block and everything after it and reuses the
  stored keys/values left of the block; ``dual`` (DualCache) feeds the block only and reuses both the
  prefix and the (still mostly masked) suffix.

The result is an approximation: a step equals a full forward in which, in every layer, the keys and
values of the positions that are not fed are those of the block's refresh (tests/test_cache.py checks
exactly this against a hand-written forward). Committed tokens of the current block therefore reach
the prefix and suffix only at the next refresh.

Dream's head is shifted (logit ``i-1`` predicts token ``i``), so for Dream the fed span starts one
token before the block: that token's output predicts the block's first token, and its keys/values are
recomputed like the block's.

How it plugs into transformers: every attention layer of ``LlamaForCausalLM``/``Qwen2ForCausalLM``
calls ``cache.update(keys, values, layer_idx)`` after applying RoPE to the keys and attends to what
it returns. Keys are stored rotated, so they keep their true positions; a step passes the fed tokens'
true position ids and a 4-D boolean mask over ``[stored keys | fed keys]`` that hides padding, the
stored copies of fed positions and, for ``prefix``, everything right of the block. Rows advance
independently (each row has its own block and leaves the batch when done), so keys/values are kept
per batch row and only the rows entering a new block are refreshed: a row's numbers never depend on
which other rows share its batch.
"""

from __future__ import annotations

from typing import Any

import torch

from lm_eval_mdlm.families.spec import left_positions


class BlockCache:
    """The :data:`~lm_eval_mdlm.decoding.loop.WindowForward` of one ``denoise`` call with a KV cache.

    Keys/values are stored per layer as (B, H_kv, L, D) over the whole batch of B rows and the whole
    canvas of L positions, allocated on the first refresh.
    """

    def __init__(self, denoiser: Any, mode: str, batch: int) -> None:
        self.denoiser, self.mode, self.batch = denoiser, mode, batch
        self.shift = 1 if denoiser.spec.shift_logits else 0
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    @torch.no_grad()  # not inference_mode: the loop writes into the logits it gets back
    def __call__(self, x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, window: torch.Tensor,
                 refresh: torch.Tensor) -> torch.Tensor:
        """Logits (A, W, V) at ``window``: refresh forwards for rows entering a block, cached steps for the rest."""
        parts = [(index, run(x, attention, rows[index], window[index]))
                 for index, run in ((refresh.nonzero().squeeze(1), self.refresh),
                                    ((~refresh).nonzero().squeeze(1), self.step)) if len(index)]
        if len(parts) == 1:
            return parts[0][1]
        first = parts[0][1]
        logits = first.new_empty((len(rows), *first.shape[1:]))
        for index, part in parts:
            logits[index] = part
        return logits

    def refresh(self, x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor,
                window: torch.Tensor) -> torch.Tensor:
        """A full forward over ``rows`` (exactly the no-cache forward) that stores their keys/values."""
        return self.denoiser(x[rows], attention[rows], kv=_Store(self, rows), window=window)

    def step(self, x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor,
             window: torch.Tensor) -> torch.Tensor:
        """A forward over each row's fed span [lo, hi) that reuses the stored keys/values outside it."""
        length, device = x.shape[1], x.device
        real = attention[rows]
        # Dream: also feed the token before the block (its output predicts the block's first token),
        # unless the block starts at the row's first real token, which keeps its own logit (``unshift``).
        lo = (window[:, 0] - self.shift).maximum(real.long().argmax(1))
        hi = window[:, -1] + 1 if self.mode == "dual" else torch.full_like(lo, length)
        width = int((hi - lo).max())
        fed = lo[:, None] + torch.arange(width, device=device)
        valid = fed < hi[:, None]  # rows with shorter spans than the widest have slots to ignore
        fed = fed.clamp(max=length - 1)
        ids = x[rows].gather(1, fed)
        positions = left_positions(real, self.denoiser.spec.pad_position).gather(1, fed)
        # Stored columns a fed token may see: prefix mode never looks right of the block.
        seen = length if self.mode == "dual" else int(lo.max())
        cols = torch.arange(seen, device=device)
        reuse = real[:, :seen] & ((cols < lo[:, None]) | (cols >= hi[:, None]))
        visible = torch.cat([reuse, valid], dim=1)
        mask = visible[:, None, None, :].expand(-1, 1, width, -1)
        # output j is canvas position lo + j; shifted heads predict position + 1
        index = (window - lo[:, None] - self.shift).clamp(min=0)
        return self.denoiser.logits(ids, mask, positions, kv=_Reuse(self, rows, seen), keep=index)


class _Store:
    """The cache a refresh passes: records each layer's keys/values for its rows and attends to them unchanged."""

    def __init__(self, cache: BlockCache, rows: torch.Tensor) -> None:
        self.cache, self.rows = cache, rows

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        cache = self.cache
        if layer_idx not in cache.keys:
            cache.keys[layer_idx] = keys.new_zeros((cache.batch, *keys.shape[1:]))
            cache.values[layer_idx] = values.new_zeros((cache.batch, *values.shape[1:]))
        cache.keys[layer_idx].index_copy_(0, self.rows, keys)
        cache.values[layer_idx].index_copy_(0, self.rows, values)
        return keys, values


class _Reuse:
    """The cache a step passes: the first ``seen`` stored positions of its rows, then the fed keys/values.

    The store is left unchanged (fed keys/values are never written back): the next refresh replaces it.
    """

    def __init__(self, cache: BlockCache, rows: torch.Tensor, seen: int) -> None:
        self.cache, self.rows, self.seen = cache, rows, seen

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        stored_keys = self.cache.keys[layer_idx][:, :, :self.seen].index_select(0, self.rows)
        stored_values = self.cache.values[layer_idx][:, :, :self.seen].index_select(0, self.rows)
        return torch.cat([stored_keys, keys], dim=2), torch.cat([stored_values, values], dim=2)
