"""Decoding-trace metrics: what parallel decoding did to one answer.

Inputs are plain sequences: the answer tokens and the step at which each was finalized. Definitions:

* **n**: answer length, tokens up to and including the first EOS (all tokens if there is none).
* **AFP** (average finalization parallelism; arXiv 2601.15593): n / number of distinct finalization
  steps among those n tokens.
* **Kendall's tau-b** between position and finalization step over the n tokens (1 = strictly left
  to right, -1 = right to left; tau-b handles the ties that parallel commits create); the block
  variant averages tau-b within each semi-AR block.
* **local / global AR-ness@1** (DiffuCoder, arXiv 2506.20639, Sec. 3): for runs that finalize one
  token per step, the share of steps whose token directly follows the previous step's token
  (local) or is the leftmost still-masked token (global).
* **NFE**: forwards the row took part in; **tokens_per_step** = n / NFE.
* **revised_tokens**: committed tokens that a revising sampler (remdm, rcr, edit) overwrote or
  re-masked; a revised token's finalization step is the step of its last change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

TRACE_METRICS = ("nfe", "tokens_per_step", "afp", "kendall_tau", "kendall_tau_block",
                 "ar_local", "ar_global", "answer_tokens", "revised_tokens")
# Trace metrics kept in the trace records and their per-task means (results' config.mdlm.decoding_traces), but not
# per-sample lm-eval metrics (the task YAMLs' metric_list names TRACE_METRICS): rows run through the model.
RUN_METRICS = TRACE_METRICS + ("row_forwards",)


def answer_length(tokens: Sequence[int], eos_ids: Sequence[int]) -> int:
    """Tokens up to and including the first EOS (all of them if none)."""
    for i, token in enumerate(tokens):
        if token in eos_ids:
            return i + 1
    return len(tokens)


def afp(steps: Sequence[int]) -> float | None:
    """n / number of distinct finalization steps; None for an empty answer."""
    if len(steps) == 0:
        return None
    return len(steps) / len(set(steps))


def kendall_tau_b(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Kendall's tau-b; None where it is undefined (fewer than 2 items, or a constant input)."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 2:
        return None
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    upper = np.triu_indices(a.size, k=1)
    da, db = da[upper], db[upper]
    concordant_minus_discordant = float((da * db).sum())
    untied_a, untied_b = float(np.count_nonzero(da)), float(np.count_nonzero(db))
    if untied_a == 0 or untied_b == 0:
        return None
    return concordant_minus_discordant / math.sqrt(untied_a * untied_b)


def block_kendall_tau(steps: Sequence[int], block_length: int) -> float | None:
    """Mean tau-b within each block of ``block_length`` positions (blocks where it is defined)."""
    values = [kendall_tau_b(range(len(chunk)), chunk)
              for chunk in (steps[i:i + block_length] for i in range(0, len(steps), block_length))]
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else None


def ar_ness(steps: Sequence[int]) -> tuple[float | None, float | None]:
    """(local, global) AR-ness@1 over the finalized positions; None unless one token per step."""
    finalized = [(s, p) for p, s in enumerate(steps) if s > 0]
    if len(finalized) < 2 or len({s for s, _ in finalized}) != len(finalized):
        return None, None
    order = [p for _, p in sorted(finalized)]
    local = sum(b == a + 1 for a, b in zip(order, order[1:])) / (len(order) - 1)
    remaining = sorted(order)
    leftmost_hits = 0
    for p in order:
        leftmost_hits += p == remaining[0]
        remaining.remove(p)
    return local, leftmost_hits / len(order)


def trace_metrics(tokens: Sequence[int], finalized_at: Sequence[int], nfe: int,
                  eos_ids: Sequence[int], block_length: int, revised: int = 0,
                  row_forwards: int | None = None) -> dict[str, float | None]:
    """All per-sample trace metrics of one answer (see the module docstring). ``row_forwards``: rows the answer
    ran through the model, which exceeds ``nfe`` when a forward verifies several drafts (psd); None = ``nfe``."""
    n = answer_length(tokens, eos_ids)
    steps = list(finalized_at[:n])
    local, global_ = ar_ness(list(finalized_at))
    return {
        "nfe": float(nfe),
        "tokens_per_step": n / nfe if nfe else None,
        "afp": afp(steps),
        "kendall_tau": kendall_tau_b(range(n), steps),
        "kendall_tau_block": block_kendall_tau(steps, block_length),
        "ar_local": local,
        "ar_global": global_,
        "answer_tokens": float(n),
        "revised_tokens": float(revised),
        "row_forwards": float(nfe if row_forwards is None else row_forwards),
    }


def mean_defined(values: Sequence[float | None]) -> float | None:
    """Mean of the defined values (None where no value is defined); the aggregation of all metrics."""
    defined = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return float(np.mean(defined)) if defined else None


# ---- order analyses of one answer (report: reasoning stage, Sudoku fill order, failure signature) ----------


def segment_order(steps: Sequence[int]) -> tuple[float | None, float | None]:
    """(AFP, Kendall's tau-b of position vs finalization step) of one stretch of an answer; None where undefined."""
    return afp(steps), kendall_tau_b(range(len(steps)), steps)


def quantile_bounds(n: int, quantiles: int) -> list[tuple[int, int]]:
    """``quantiles`` consecutive position ranges of (nearly) equal size over n positions: [n*i//q, n*(i+1)//q).

    A range is empty when n < quantiles; its AFP and tau are then undefined (None), not zero.
    """
    return [(n * i // quantiles, n * (i + 1) // quantiles) for i in range(quantiles)]


def spearman_rho(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (Pearson correlation of average ranks); None with < 2 items or a constant input."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.size < 2:
        return None
    ra, rb = _average_ranks(a), _average_ranks(b)
    da, db = ra - ra.mean(), rb - rb.mean()
    denominator = math.sqrt(float((da * da).sum()) * float((db * db).sum()))
    return float((da * db).sum()) / denominator if denominator > 0 else None


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size, dtype=float)
    ranks[order] = np.arange(values.size, dtype=float)
    for value in np.unique(values):  # ties share the mean of their ranks
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def easier_first_share(difficulty: Sequence[float], order: Sequence[float]) -> tuple[float | None, int]:
    """(share, pairs): among pairs of items that differ in difficulty *and* in fill step, the share where the
    easier one (lower difficulty) was filled first. Pairs tied in either are not counted (a parallel commit
    or an equal candidate count says nothing about which came first). None when no pair counts."""
    d, o = np.asarray(difficulty, dtype=float), np.asarray(order, dtype=float)
    upper = np.triu_indices(d.size, k=1)
    dd = np.sign(d[:, None] - d[None, :])[upper]
    do = np.sign(o[:, None] - o[None, :])[upper]
    counted = (dd != 0) & (do != 0)
    pairs = int(counted.sum())
    return (float((dd[counted] == do[counted]).mean()) if pairs else None), pairs


def repeated_ngram_rate(text: str, n: int = 3) -> float | None:
    """rep-n (Welleck et al. 2019, "Neural Text Generation with Unlikelihood Training"): 1 - distinct word
    n-grams / all word n-grams of the answer. 0 = no n-gram repeats; near 1 = a loop. None below n words."""
    words = text.split()
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return 1.0 - len(set(grams)) / len(grams) if grams else None
