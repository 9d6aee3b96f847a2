"""``psd``: parallel speculative decoding (Sun, Li et al. 2026, "PSD: Pushing the Pareto Frontier of Diffusion
LLMs via Parallel Speculative Decoding", arXiv 2605.15609).

From the predictions of one forward, a row's masked block positions are ordered by score. Draft ``d`` is the
canvas after ``d`` policy steps taken with those predictions alone: depth 1 unmasks what the unmasking policy
picks (``psd_policy``: the threshold rule, or the single best position), every deeper depth the next-best
position. The next forward runs all ``psd_depth`` drafts of a row as one batch (one forward call, ``psd_depth``
rows) and keeps the deepest draft every depth of which is consistent with the predictions made on the draft
before it (hierarchical acceptance); the kept draft's predictions then build the next drafts, so no step needs
an extra model call. Depth 1 is always consistent: it is the policy's own step on verified predictions.

Acceptance (``psd_accept``): ``match`` keeps draft ``d`` while the tokens it adds equal the argmax the model
now predicts there given draft ``d - 1``; ``lossless`` additionally needs the position it adds to be the one
one-token-per-step decoding (``k=1`` with the same ``score``) would pick on draft ``d - 1``. Every kept depth
then is exactly k=1's step, so the output is token-identical to ``k=1`` with fewer forward calls. A draft past
the point where the row is settled (an EOS with nothing masked before it) is never kept, as k=1 would stop there.

Costs, reported separately: ``nfe`` counts forward calls a row took part in, ``row_forwards`` the rows it
ran (a verification of D drafts is D rows; the first step of each block runs one plain row, which has no
drafts yet because drafts never cross a block boundary).
"""

from __future__ import annotations

import torch

from lm_eval_mdlm.decoding.rules import StepView, _ranks, select_threshold, select_topk
from lm_eval_mdlm.decoding.strategies.base import Config, Decision, Sampler, StepContext, WindowForward
from lm_eval_mdlm.decoding.strategies.spec import Knob, Strategy, require_probability
from lm_eval_mdlm.errors import ConfigError

KNOBS = (
    Knob("psd_depth", "int", 4, "draft depth (1-64)",
         low=1, high=64, hint="drafts verified per forward, e.g. psd_depth=4"),
    Knob("psd_policy", "str", "threshold", "how a draft unmasks (`threshold` at `threshold=`, or `top1`)",
         choices=("threshold", "top1")),
    Knob("psd_accept", "str", "match", "acceptance (`match`, or `lossless`: token-identical to `k=1`, needs "
         "`psd_policy=top1`) ([docs/psd.md](docs/psd.md))", choices=("match", "lossless")),
)


def _check(cfg: Config) -> None:
    """The settings psd's batched verification cannot honour (only when it is the chosen strategy)."""
    if cfg.strategy != "psd":
        return
    if cfg.psd_policy == "threshold":
        require_probability(cfg)
    if cfg.psd_accept == "lossless" and cfg.psd_policy != "top1":
        raise ConfigError("psd_accept=lossless reproduces one-token-per-step decoding, so every depth must "
                          f"unmask one position: psd_policy={cfg.psd_policy} cannot be used; set psd_policy=top1.")
    if cfg.cache != "none":
        raise ConfigError(f"strategy=psd verifies several drafts of a row in one forward, which cache={cfg.cache} "
                          "(one cached state per row) cannot feed; use cache=none.")
    if cfg.temperature != 0.0 or cfg.score == "random":
        bad = f"temperature={cfg.temperature}" if cfg.temperature != 0.0 else "score=random"
        raise ConfigError(f"strategy=psd compares drafts with greedy predictions, so {bad} cannot be used; use "
                          "temperature=0 and a deterministic score (confidence, margin, entropy, left_to_right).")


class Speculative(Sampler):
    """``psd``: drafts built from one forward, verified together in the next (see the module docstring)."""

    def __init__(self, cfg: Config, batch: int, length: int, device: torch.device) -> None:
        super().__init__(cfg, batch, length, device)
        self.fanout = cfg.psd_depth
        self.depth = torch.zeros(batch, self.width, dtype=torch.long, device=device)
        """(B, W) depth at which each window slot is drafted (0 = not drafted)."""
        self.drafted = torch.zeros(batch, self.width, dtype=torch.long, device=device)
        """(B, W) drafted tokens (argmax of the predictions the drafts were built from)."""
        self.accepted = torch.zeros(0, self.width, dtype=torch.bool, device=device)
        self.accepted_tokens = torch.zeros(0, self.width, dtype=torch.long, device=device)

    def forward(self, step: WindowForward, x: torch.Tensor, attention: torch.Tensor, ctx: StepContext,
                columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Run every row's drafts (or its canvas, when it has none) in one call and keep the deepest consistent
        draft; return that draft's window logits and the rows each row ran."""
        depth = torch.where(ctx.new_block[:, None], 0, self.depth[ctx.rows])  # drafts never cross blocks
        tokens = self.drafted[ctx.rows]
        count = depth.max(1).values.clamp_min(1)
        owner = torch.repeat_interleave(torch.arange(len(count), device=x.device), count)
        first = count.cumsum(0) - count
        level = torch.arange(len(owner), device=x.device) - first[owner] + 1  # draft depth of each row run
        fill = (depth[owner] >= 1) & (depth[owner] <= level[:, None])
        canvas, cols = x[ctx.rows][owner], columns[owner]
        n, j = fill.nonzero(as_tuple=True)  # only drafted slots are written (clamped window slots repeat)
        canvas[n, cols[n, j]] = tokens[owner][n, j]
        logits = step(canvas, attention[ctx.rows][owner], torch.arange(len(owner), device=x.device), cols,
                      ctx.new_block[owner])
        kept = self._accept(logits, depth, tokens, ctx, first, count, columns - (x.shape[1] - self.length))
        self.accepted = (depth >= 1) & (depth <= kept[:, None])
        self.accepted_tokens = tokens
        return logits[first + (kept - 1).clamp_min(0)], count

    def _accept(self, logits: torch.Tensor, depth: torch.Tensor, tokens: torch.Tensor, ctx: StepContext,
                first: torch.Tensor, count: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(A,) depth of the deepest consistent draft (0 for rows that had no drafts)."""
        levels = torch.arange(1, self.fanout + 1, device=depth.device)
        before = first[:, None] + (levels[:-1] - 1).clamp(max=count[:, None] - 1)  # draft d - 1, d = 2..D
        added = depth[:, None, :] == levels[1:, None]  # (A, D - 1, W) slots draft d adds
        prior = (depth[:, None, :] >= 1) & (depth[:, None, :] < levels[1:, None])  # filled in draft d - 1
        predicted = logits.argmax(-1)[before]
        ok = (~added | (tokens[:, None] == predicted)).all(-1) & added.any(-1)
        if self.cfg.psd_accept == "lossless":
            view = StepView(logits, positions.repeat_interleave(count, 0), torch.zeros_like(first).repeat_interleave(
                count, 0), torch.ones_like(first).repeat_interleave(count, 0), 0.0)
            open_ = ctx.candidates[:, None] & ~prior
            scores = self.score(view)[before].masked_fill(~open_, float("-inf"))
            pick = scores.argmax(-1, keepdim=True)  # k=1's choice on draft d - 1, ties to the left as select_topk
            ok &= depth[:, None, :].expand_as(added).gather(-1, pick)[..., 0] == levels[1:]
        ok &= ~self._settled(tokens, prior, ctx)
        kept = 1 + ok.long().cumprod(-1).sum(-1)
        return torch.where(depth.max(1).values > 0, kept, 0)

    @staticmethod
    def _settled(tokens: torch.Tensor, prior: torch.Tensor, ctx: StepContext) -> torch.Tensor:
        """(A, D - 1) whether draft d - 1 already ends the row: an EOS in the block with nothing masked before it.
        Earlier blocks are finished and later ones fully masked, so the block decides."""
        if ctx.eos is None or ctx.eos.numel() == 0:
            return torch.zeros(prior.shape[:2], dtype=torch.bool, device=prior.device)
        window = torch.where(prior, tokens[:, None], ctx.current[:, None])
        is_eos = torch.isin(window, ctx.eos) & (ctx.candidates | ctx.committed)[:, None]
        after_eos = is_eos.long().cumsum(-1) > 0
        masked_before = (ctx.candidates[:, None] & ~prior & ~after_eos).any(-1)
        return is_eos.any(-1) & ~masked_before

    def __call__(self, view: StepView, ctx: StepContext) -> Decision:
        """Commit the kept draft; draft again from its predictions (``view``)."""
        candidates = ctx.candidates & ~self.accepted
        scores = self.score(view)
        if self.cfg.psd_policy == "threshold":
            first = select_threshold(scores, candidates, self.cfg.threshold)
        else:
            first = select_topk(scores, candidates, torch.ones_like(scores[:, 0], dtype=torch.long))
        ranks = _ranks(scores.masked_fill(~candidates, float("-inf")))
        depth = torch.where(first, 1, ranks - first.sum(-1, keepdim=True) + 2)
        self.depth[ctx.rows] = torch.where(candidates & (depth <= self.fanout), depth, 0)
        self.drafted[ctx.rows] = view.tokens
        return Decision(self.accepted, tokens=self.accepted_tokens)


STRATEGY = Strategy("psd", "speculative drafts from one forward, verified together in the next (PSD)", Speculative,
                    knobs=KNOBS, reads=("threshold",), check=_check, extra_forwards=lambda cfg: 1, order=90)
