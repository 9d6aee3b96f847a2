"""Block-causal attention of block-diffusion LMs (SDAR/TraDo, LLaDA 2.x) and their exact block cache.

These models are trained on sequences cut into blocks of ``block_length`` positions: a token sees every
token of its own block (both directions) and of all earlier blocks, and nothing after its block. Blocks
are aligned to the sequence start: both reference samplers (JetAstra/SDAR ``generate.py``
``block_diffusion_generate``; LLaDA2.0-mini's ``LLaDA2MoeModelLM.generate``) build
``tril(ones(nb, nb)).repeat_interleave(block_length, 0).repeat_interleave(block_length, 1)`` over
``arange(prompt + answer)`` with ``position_ids = arange``, so block ``k`` is positions
``[k * block_length, (k + 1) * block_length)`` and the prompt's last block is shared with the first
answer tokens. Under left padding we take each row's positions from its first real token
(``cumsum(mask) - 1``) and give block ``position // block_length`` to every real token. A 2-D padding
mask would make these models causal (their own forward turns it into a causal mask), which is why
:class:`~lm_eval_mdlm.families.base.Denoiser` always builds the 4-D mask here.

**Exact block cache.** Once the decoding loop moves a row to its next block, every earlier block is
final: no later step writes there, and block-causal attention means no later token changes their keys
and values. :class:`BlockCausalForward` therefore keeps each row's keys/values of its finished blocks
(``cache=prefix|dual``) and feeds only the current block, plus, on the first step of a block, the block
just finished (its keys/values are computed once, from its final tokens, and stored). This equals the
no-cache forward up to float rounding and costs no extra forward: SDAR's reference spends one extra
``store_kv=True`` forward per block to commit it; we fold that commit into the next block's first step.
With ``cache=none`` the same class feeds every row from its first real token to the end of its current
block (positions after it cannot influence the block), as LLaDA 2.x's reference does with
``x[:, :current_window_end]``.
"""

from __future__ import annotations

from typing import Any

import torch

from lm_eval_mdlm.families.spec import left_positions


def block_causal_4d(attention_mask: torch.Tensor, block_length: int) -> torch.Tensor:
    """(B, 1, L, L) bool mask, True = query may attend key: real tokens see real tokens of their own
    block and of earlier blocks, with blocks of ``block_length`` counted from each row's first real token."""
    am = attention_mask.bool()
    blocks = left_positions(am) // block_length
    earlier = blocks[:, None, :] <= blocks[:, :, None]
    return (am[:, None, :] & am[:, :, None] & earlier)[:, None]


class BlockCausalForward:
    """The :data:`~lm_eval_mdlm.decoding.loop.WindowForward` of one ``denoise`` call on a block-causal model.

    ``store=True`` (``cache=prefix|dual``) keeps keys/values of finished blocks per batch row as
    (B, H_kv, L, D) per layer over the canvas; ``store=False`` (``cache=none``) recomputes the prefix at
    every step. The loop's window must lie inside one block of ``block_length`` positions aligned to the
    row's first real token (the loop guarantees this for block-causal models).
    """

    def __init__(self, denoiser: Any, batch: int, block_length: int, store: bool) -> None:
        if denoiser.spec.shift_logits:
            raise ValueError(f"family={denoiser.family}: block-causal decoding assumes unshifted logits "
                             "(logit i predicts token i), as SDAR and LLaDA 2.x have.")
        self.denoiser, self.batch, self.block_length, self.store = denoiser, batch, block_length, store
        self.filled: torch.Tensor | None = None
        """(B,) canvas column up to which each row's keys/values are stored (its finished blocks)."""
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    @torch.no_grad()  # not inference_mode: the loop writes into the logits it gets back
    def __call__(self, x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, window: torch.Tensor,
                 refresh: torch.Tensor) -> torch.Tensor:
        """Logits (A, W, V) at ``window``, from one forward over each row's unstored span up to its block end."""
        length, device = x.shape[1], x.device
        real = attention[rows]
        positions = left_positions(real, self.denoiser.spec.pad_position)
        pad = length - real.sum(1)
        # The window starts inside the row's current block; the block itself may start in the prompt.
        block_start = pad + positions.gather(1, window[:, :1])[:, 0] // self.block_length * self.block_length
        block_end = (block_start + self.block_length).clamp(max=length)
        if self.filled is None:
            self.filled = torch.zeros(self.batch, dtype=torch.long, device=device)
        lo = self.filled[rows].maximum(pad) if self.store else pad
        width = int((block_end - lo).max())
        fed = lo[:, None] + torch.arange(width, device=device)
        valid = fed < block_end[:, None]  # rows with shorter spans than the widest have slots to ignore
        fed = fed.clamp(max=length - 1)
        fed_positions = positions.gather(1, fed)
        fed_blocks = fed_positions // self.block_length
        sees_fed = valid[:, None, :] & (fed_blocks[:, None, :] <= fed_blocks[:, :, None])
        seen = int(lo.max()) if self.store else 0  # stored columns any of these rows may attend to
        sees_stored = real[:, :seen] & (torch.arange(seen, device=device) < lo[:, None])
        mask = torch.cat([sees_stored[:, None, :].expand(-1, width, -1), sees_fed], dim=2)[:, None]
        kv = None
        if self.store:  # fed columns before the block start belong to finished blocks: keep them
            kv = _StoreFinished(self, rows, seen, fed, valid & (fed < block_start[:, None]), length)
        index = (window - lo[:, None]).clamp(max=width - 1)  # window slots past the block are not used
        logits = self.denoiser.logits(x[rows].gather(1, fed), mask, fed_positions, kv=kv, keep=index)
        if self.store:
            self.filled[rows] = block_start
        return logits


class _StoreFinished:
    """The cache one forward passes: each row's stored keys/values before its fed span, then the fed
    ones; fed columns of finished blocks (``commit``) are written to the store for later steps."""

    def __init__(self, owner: BlockCausalForward, rows: torch.Tensor, seen: int, fed: torch.Tensor,
                 commit: torch.Tensor, length: int) -> None:
        self.owner, self.rows, self.seen, self.length = owner, rows, seen, length
        self.commit_rows, slots = commit.nonzero(as_tuple=True)
        self.commit_slots, self.commit_cols = slots, fed[self.commit_rows, slots]

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        owner, out = self.owner, []
        for store, new in ((owner.keys, keys), (owner.values, values)):
            if layer_idx not in store:
                store[layer_idx] = new.new_zeros((owner.batch, new.shape[1], self.length, new.shape[3]))
            out.append(torch.cat([store[layer_idx][:, :, :self.seen].index_select(0, self.rows), new], dim=2))
            store[layer_idx][self.rows[self.commit_rows], :, self.commit_cols] = \
                new[self.commit_rows, :, self.commit_slots]
        return out[0], out[1]
