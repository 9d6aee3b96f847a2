"""The one denoising loop every strategy runs through.

Layout: each row is ``[left padding | prompt | answer]`` where the answer starts fully masked. Each
iteration runs one forward over the rows that still have work, looks at each row's *current block*
(the block holding its leftmost masked answer position), scores the block's positions with the
strategy's score rule and commits the set its select rule picks. Rows advance independently: a row
whose block is finished moves on to the next one; a row whose answer is settled up to its first EOS
leaves the batch and costs no more forwards (its remaining positions lie after the EOS, so no later
step could change its output).

Every committed token records its *finalization step*, the row's forward count at commit time:
the decoding trace behind AFP, Kendall's tau and NFE.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import DecodeConfig
from lm_eval_mdlm.decoding.rules import (
    SCORE_RULES,
    StepView,
    select_factor,
    select_threshold,
    select_topk,
)
from lm_eval_mdlm.decoding.schedule import Schedule

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(input_ids (A, L), attention_mask (A, L) bool) -> logits (A, L, V), logits[:, i] predicting token i."""

@dataclass
class DecodeOutput:
    """Result of :func:`denoise` for a batch of B rows and answers of G tokens."""

    answer: torch.Tensor
    """(B, G) answer tokens; positions left masked (after a row's first EOS) hold the mask id."""
    finalized_at: torch.Tensor
    """(B, G) step (1-based forward count of the row) at which each token was committed; 0 = never."""
    nfe: torch.Tensor
    """(B,) forwards each row took part in."""


def build_canvas(prompts: Sequence[Sequence[int]], length: int, mask_id: int, pad_id: int,
                 device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad prompts and append ``length`` masks: ids (B, P + G) and attention mask (B, P + G)."""
    width = max(len(p) for p in prompts)
    lengths = torch.tensor([len(p) for p in prompts], device=device)
    flat = torch.tensor([t for p in prompts for t in p], dtype=torch.long, device=device)
    cols = torch.arange(width, device=device)
    starts = width - lengths
    is_prompt = cols[None, :] >= starts[:, None]
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long, device=device)
    ids[is_prompt] = flat  # row-major order of True cells matches the concatenated prompts
    answer = torch.full((len(prompts), length), mask_id, dtype=torch.long, device=device)
    attention = torch.cat([is_prompt, torch.ones_like(answer, dtype=torch.bool)], dim=1)
    return torch.cat([ids, answer], dim=1), attention


def denoise(forward: Forward, prompts: Sequence[Sequence[int]], cfg: DecodeConfig, schedule: Schedule,
            *, mask_id: int, pad_id: int, eos_ids: Sequence[int], keys: Sequence[int],
            device: torch.device) -> DecodeOutput:
    """Decode one batch of answers of ``schedule.length`` tokens; see the module docstring."""
    x, attention = build_canvas(prompts, schedule.length, mask_id, pad_id, device)
    start = x.shape[1] - schedule.length
    batch, length, width = len(prompts), schedule.length, schedule.block_length
    finalized_at = torch.zeros(batch, length, dtype=torch.long, device=device)
    nfe = torch.zeros(batch, dtype=torch.long, device=device)
    current_block = torch.full((batch,), -1, dtype=torch.long, device=device)
    step_in_block = torch.zeros(batch, dtype=torch.long, device=device)
    row_keys = torch.tensor(list(keys), dtype=torch.long, device=device)
    eos = torch.tensor(list(eos_ids), dtype=torch.long, device=device)
    positions = torch.arange(length, device=device)
    offsets = torch.arange(width, device=device)
    score_rule = SCORE_RULES[cfg.score]

    while True:
        answer = x[:, start:]
        masked = answer == mask_id
        is_eos = torch.isin(answer, eos)
        first_eos = torch.where(is_eos.any(1), is_eos.long().argmax(1), length)
        live = (masked & (positions < first_eos[:, None])).any(1)
        if not live.any():
            break
        rows = live.nonzero().squeeze(1)
        first_masked = torch.where(masked[rows], positions, length).min(1).values
        block = first_masked // width
        step_in_block[rows] = torch.where(block == current_block[rows], step_in_block[rows], 0)
        current_block[rows] = block

        logits = forward(x[rows], attention[rows])[:, start:]
        nfe[rows] += 1
        window = block[:, None] * width + offsets
        inside = window < length
        window = window.clamp(max=length - 1)
        window_logits = logits.gather(1, window[:, :, None].expand(-1, -1, logits.shape[-1]))
        view = StepView(window_logits, window, row_keys[rows], nfe[rows], cfg.temperature)
        candidates = inside & masked[rows].gather(1, window)
        scores = score_rule(view)
        if cfg.strategy == "threshold":
            chosen = select_threshold(scores, candidates, cfg.threshold)
        elif cfg.strategy == "factor":
            chosen = select_factor(scores, candidates, cfg.factor)
        else:
            chosen = select_topk(scores, candidates, schedule.quota(block, step_in_block[rows]))

        r, j = chosen.nonzero(as_tuple=True)
        row, pos = rows[r], window[r, j]
        x[row, start + pos] = view.tokens[r, j]
        finalized_at[row, pos] = nfe[row]
        step_in_block[rows] += 1

    return DecodeOutput(answer=x[:, start:].clone(), finalized_at=finalized_at, nfe=nfe)
