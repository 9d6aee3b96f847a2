"""The one denoising loop every strategy runs through.

Layout: each row is ``[left padding | prompt | answer]`` where the answer starts fully masked. Each
iteration runs one forward over the rows that still have work, looks at each row's *current block*
(the block holding its leftmost masked answer position, or the block a sampler holds for more
revision steps) and lets the strategy's sampler (:mod:`lm_eval_mdlm.decoding.strategies`) decide what
to commit, re-mask or overwrite there. Rows advance independently: a row
whose block is finished moves on to the next one; a row whose answer is settled up to its first EOS
leaves the batch and costs no more forwards (its remaining positions lie after the EOS, so no later
step could change its output).

Every committed token records its *finalization step*, the row's forward count when it last
changed: the decoding trace behind AFP, Kendall's tau and NFE. The mask token is never proposed.

The loop only needs each row's logits over its window, so the forward is wrapped in a
:data:`WindowForward`: a plain full forward (``cache=none``), or a model's block cache
(``cache=prefix|dual``, :mod:`lm_eval_mdlm.families.cache`) that runs a full *refresh* forward on
a row's first step in a block and a cheaper windowed forward on its other steps. Either way a row
takes exactly one forward per step, so NFE counts refreshes like any other step.

Block-diffusion models (SDAR, LLaDA 2.x: a forward with ``block_causal`` set) are trained with blocks
aligned to absolute positions, so the loop aligns its blocks to each row's prompt: a row whose prompt
has P tokens starts in the block the prompt ends in (answer positions ``[0, W - P % W)``), then takes
whole blocks (``Schedule.aligned``). Their forward is the model's block-causal one
(:class:`~lm_eval_mdlm.families.block_causal.BlockCausalForward`), exact with or without a cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lm_eval_mdlm.config import ConfigError, DecodeConfig
from lm_eval_mdlm.decoding import strategies
from lm_eval_mdlm.decoding.rules import StepView
from lm_eval_mdlm.decoding.schedule import Schedule
from lm_eval_mdlm.decoding.strategies.base import Decision, StepContext

ENGINE_SAMPLERS = strategies.engine_samplers()
"""Every strategy the loop runs, from the registry (one module per strategy in decoding/strategies/)."""

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(input_ids (A, L), attention_mask (A, L) bool) -> logits (A, L, V), logits[:, i] predicting token i."""

WindowForward = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
"""(canvas (B, L), attention (B, L) bool, rows (A,), window (A, W), refresh (A,) bool) -> logits (A, W, V).

``window`` holds canvas positions of each row's current block (contiguous; when the block is shorter than
W, the slots after it run on into the next block or repeat the last position, and the loop ignores their
logits); ``refresh`` marks rows on their first step in that block. Row indices
address the whole batch, so a cache can keep per-row state while rows leave the batch."""


def check_cache(forward: Forward, mode: str) -> None:
    """Raise a :class:`ConfigError` unless ``forward`` can decode with ``cache=mode``.

    Models that support caching expose ``check_cache(mode)`` (which names their own alternatives)
    and ``block_cache(mode, batch)``; callers run this at model load and per request, so a bad
    combination fails before any forward.
    """
    if mode == "none":
        return
    check = getattr(forward, "check_cache", None)
    if check is None:
        raise no_kv_cache(mode, getattr(forward, "family", type(forward).__name__))
    check(mode)


def no_kv_cache(mode: str, family: str) -> ConfigError:
    """The error for ``cache=prefix|dual`` on a model without a KV cache the engine can drive."""
    return ConfigError(f"cache={mode} cannot be used with family={family}: this model has no KV cache the engine "
                       "can drive. Use cache=none, or a llada/dream checkpoint loaded natively (docs/families.md, "
                       "KV caching).")


def window_forward(forward: Forward, mode: str, batch: int, block_length: int | None = None) -> WindowForward:
    """The forward the loop calls: a full forward (``cache=none``) or ``forward``'s block cache.

    Block-causal models get the decoding ``block_length`` (their attention blocks are the decoding
    blocks) and always decode through their own block forward, which also serves ``cache=none``.
    """
    check_cache(forward, mode)
    if block_length is not None:
        return forward.block_cache(mode, batch, block_length)  # type: ignore[attr-defined]
    if mode != "none":
        return forward.block_cache(mode, batch)  # type: ignore[attr-defined]

    def full(x: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, window: torch.Tensor,
             refresh: torch.Tensor) -> torch.Tensor:
        if getattr(forward, "window_head", False):  # logits only at the window (families/base.py, Denoiser)
            return forward(x[rows], attention[rows], window=window)  # type: ignore[call-arg]
        logits = forward(x[rows], attention[rows])
        return logits.gather(1, window[:, :, None].expand(-1, -1, logits.shape[-1]))

    return full


def _never_mask(model: WindowForward, mask_id: int) -> WindowForward:
    """``model`` whose logits never propose the mask token itself; out of place, since a model may return
    an inference tensor."""

    def step(canvas: torch.Tensor, attention: torch.Tensor, rows: torch.Tensor, window: torch.Tensor,
             refresh: torch.Tensor) -> torch.Tensor:
        logits = model(canvas, attention, rows, window, refresh)
        return logits.index_fill(-1, torch.tensor([mask_id], device=logits.device), float("-inf"))

    return step


@dataclass
class DecodeOutput:
    """Result of :func:`denoise` for a batch of B rows and answers of G tokens."""

    answer: torch.Tensor
    """(B, G) answer tokens; positions left masked (after a row's first EOS) hold the mask id."""
    finalized_at: torch.Tensor
    """(B, G) step (1-based forward count of the row) at which each token was committed; 0 = never."""
    nfe: torch.Tensor
    """(B,) forwards each row took part in."""
    revised: torch.Tensor
    """(B,) revisions: committed tokens overwritten or re-masked (0 for commit-once strategies)."""
    confidence: torch.Tensor | None = None
    """(B, G) commit confidence: softmax probability (float64, temperature 1) the model gave each token at the
    step it was last written; 0 where never committed. None when a model's own sampler decoded."""
    row_forwards: torch.Tensor | None = None
    """(B,) rows each row ran through the model: ``nfe`` unless a step runs several canvases of a row
    (``psd`` verifies its drafts as extra rows of one forward). None: equal to ``nfe``."""

    def __post_init__(self) -> None:
        if self.row_forwards is None:
            self.row_forwards = self.nfe.clone()


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


def step_bound(cfg: DecodeConfig, schedule: Schedule) -> int:
    """The most forwards a row can take. Every strategy commits at least one masked position of its block
    per step, or (remdm, rcr) runs a step budget of at most the block's size whose last step leaves nothing
    masked; a strategy may add forwards per block that commit nothing (its ``extra_forwards``: ``edit``'s
    editing-only steps, ``psd``'s draft-building forward); aligned rows have one more block, the remainder of
    the prompt's."""
    blocks = -(-schedule.length // schedule.block_length) + int(schedule.aligned)
    return schedule.length + blocks * strategies.REGISTRY[cfg.strategy].extra_forwards(cfg)


@dataclass
class _Rows:
    """Per-row state of one :func:`denoise` call: the canvas and what each row has done so far (B rows)."""

    x: torch.Tensor
    """(B, P + G) canvas: left-padded prompt, then the answer."""
    start: int
    """Canvas column of the first answer position."""
    phase: torch.Tensor
    """(B,) answer positions before the first block boundary (aligned schedules; else 0)."""
    finalized_at: torch.Tensor
    confidence: torch.Tensor
    nfe: torch.Tensor
    row_forwards: torch.Tensor
    revised: torch.Tensor
    current_block: torch.Tensor
    """(B,) block each row worked on last (-1 before its first step)."""
    step_in_block: torch.Tensor
    holding: torch.Tensor
    """(B,) rows whose sampler keeps their block for another step (revising samplers)."""
    positions: torch.Tensor
    """(G,) answer positions 0..G-1."""
    offsets: torch.Tensor
    """(W,) window slots 0..W-1."""

    @classmethod
    def new(cls, x: torch.Tensor, attention: torch.Tensor, schedule: Schedule) -> _Rows:
        batch, length, device = x.shape[0], schedule.length, x.device
        start = x.shape[1] - length
        # Answer positions before the first block boundary: the prompt's last block is shared with the answer.
        phase = attention[:, :start].sum(1) % schedule.block_length if schedule.aligned \
            else torch.zeros(batch, dtype=torch.long, device=device)

        def zeros(*shape: int, dtype: torch.dtype = torch.long) -> torch.Tensor:
            return torch.zeros(*shape, dtype=dtype, device=device)

        return cls(x, start, phase, zeros(batch, length), zeros(batch, length, dtype=torch.float64), zeros(batch),
                   zeros(batch), zeros(batch), torch.full((batch,), -1, dtype=torch.long, device=device),
                   zeros(batch), zeros(batch, dtype=torch.bool), torch.arange(length, device=device),
                   torch.arange(schedule.width, device=device))

    def live(self, mask_id: int, eos: torch.Tensor) -> torch.Tensor:
        """(A,) rows with work left: a masked position before their first EOS, or a held block."""
        answer = self.x[:, self.start:]
        is_eos = torch.isin(answer, eos)
        first_eos = torch.where(is_eos.any(1), is_eos.long().argmax(1), answer.shape[1])
        live = ((answer == mask_id) & (self.positions < first_eos[:, None])).any(1) | self.holding
        return live.nonzero().squeeze(1)

    def context(self, rows: torch.Tensor, schedule: Schedule, mask_id: int,
                eos: torch.Tensor) -> tuple[StepContext, torch.Tensor]:
        """Each row's current block (its leftmost masked one, unless held) and the window over it: the step's
        context and the window's answer positions (A, W)."""
        answer, length = self.x[rows, self.start:], schedule.length
        first_masked = torch.where(answer == mask_id, self.positions, length).min(1).values
        first_block = (first_masked.clamp(max=length - 1) + self.phase[rows]) // schedule.block_length
        block = torch.where(self.holding[rows], self.current_block[rows], first_block)
        new_block = block != self.current_block[rows]
        self.step_in_block[rows] = torch.where(new_block, 0, self.step_in_block[rows])
        self.current_block[rows] = block
        block_start, block_end = schedule.span(block, self.phase[rows])
        window = block_start[:, None] + self.offsets
        inside = window < block_end[:, None]
        window = window.clamp(max=length - 1)
        current = answer.gather(1, window)
        ctx = StepContext(rows=rows, block=block, step_in_block=self.step_in_block[rows], new_block=new_block,
                          current=current, candidates=inside & (current == mask_id),
                          committed=inside & (current != mask_id), schedule=schedule, phase=self.phase[rows], eos=eos)
        return ctx, window

    def apply(self, decision: Decision, view: StepView, ctx: StepContext, mask_id: int) -> None:
        """Write, re-mask and hold as ``decision`` says; a token's finalization step is the step of its last
        change (revising samplers included), its confidence the probability it was last written with."""
        rows, window = ctx.rows, view.positions
        tokens = view.tokens if decision.tokens is None else decision.tokens
        r, j = (decision.write & (tokens != ctx.current)).nonzero(as_tuple=True)
        row, pos = rows[r], window[r, j]
        self.revised.index_add_(0, row, ctx.committed[r, j].long())
        self.x[row, self.start + pos] = tokens[r, j]
        self.finalized_at[row, pos] = self.nfe[row]
        self.confidence[row, pos] = commit_confidence(view.logits[r, j], tokens[r, j])
        if decision.remask is not None:
            r, j = decision.remask.nonzero(as_tuple=True)
            row, pos = rows[r], window[r, j]
            self.revised.index_add_(0, row, torch.ones_like(row))
            self.x[row, self.start + pos] = mask_id
            self.finalized_at[row, pos] = 0
            self.confidence[row, pos] = 0.0
        self.holding[rows] = decision.hold if decision.hold is not None else False
        self.step_in_block[rows] += 1


def denoise(forward: Forward, prompts: Sequence[Sequence[int]], cfg: DecodeConfig, schedule: Schedule,
            *, mask_id: int, pad_id: int, eos_ids: Sequence[int], keys: Sequence[int],
            device: torch.device) -> DecodeOutput:
    """Decode one batch of answers of ``schedule.length`` tokens; see the module docstring."""
    block_causal = bool(getattr(forward, "block_causal", False))
    if block_causal != schedule.aligned:
        raise ValueError(f"the model is {'' if block_causal else 'not '}block-causal but the schedule has "
                         f"aligned={schedule.aligned}: build it with "
                         f"make_schedule(cfg, length, aligned={block_causal}).")
    x, attention = build_canvas(prompts, schedule.length, mask_id, pad_id, device)
    state = _Rows.new(x, attention, schedule)
    batch, length, block_length = len(prompts), schedule.length, schedule.block_length
    row_keys = torch.tensor(list(keys), dtype=torch.long, device=device)
    eos = torch.tensor(list(eos_ids), dtype=torch.long, device=device)
    sampler = ENGINE_SAMPLERS[cfg.strategy](cfg, batch, length, device)
    model = window_forward(forward, cfg.cache, batch * sampler.fanout, block_length if schedule.aligned else None)
    step = _never_mask(model, mask_id)
    bound = step_bound(cfg, schedule)

    while len(rows := state.live(mask_id, eos)):
        assert int(state.nfe.max()) < bound, f"strategy={cfg.strategy} passed its bound of {bound} steps: {cfg}"
        ctx, window = state.context(rows, schedule, mask_id, eos)
        window_logits, ran = sampler.forward(step, x, attention, ctx, state.start + window)
        state.nfe[rows] += 1
        state.row_forwards[rows] += ran
        scored = ctx.candidates | ctx.committed if sampler.reads_committed else ctx.candidates
        view = StepView(window_logits, window, row_keys[rows], state.nfe[rows], cfg.temperature, scored, ctx.current)
        state.apply(sampler(view, ctx), view, ctx, mask_id)

    return DecodeOutput(answer=x[:, state.start:].clone(), finalized_at=state.finalized_at, nfe=state.nfe,
                        revised=state.revised, confidence=state.confidence, row_forwards=state.row_forwards)


def commit_confidence(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """(N,) softmax probability of each written token under its (N, V) logits, row by row in float64.

    Computed only for the written positions (not the whole window), and per row, so it costs little and a
    token's value does not depend on which other rows share the batch. Temperature 1 (the model's own
    distribution), whatever temperature sampled the token: calibration asks what the model believed.
    """
    return torch.softmax(logits.to(torch.float64), dim=-1).gather(-1, tokens[:, None]).squeeze(-1)
