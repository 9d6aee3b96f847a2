"""Counter-based random numbers: noise as a pure function of (seed, row key, step, position, token).

Why not ``torch.rand``: a shared generator hands row b different numbers depending on which other
rows share its batch, so sampled outputs would change with the batch size (a flaw of the public
LLaDA/Fast-dLLM evaluators). Hashing the coordinates instead makes every row's noise independent of
batch composition and order. The mixer is SplitMix64's finaliser (Steele, Lea & Flood, "Fast
splittable pseudorandom number generators", OOPSLA 2014), in int64 with wrap-around multiplication.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import torch

_M1 = 0xBF58476D1CE4E5B9 - (1 << 64)  # SplitMix64 multipliers as signed int64
_M2 = 0x94D049BB133111EB - (1 << 64)
_GOLDEN = 0x9E3779B97F4A7C15 - (1 << 64)


def _shr(z: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift for int64 (torch's ``>>`` is arithmetic)."""
    return (z >> s) & ((1 << (64 - s)) - 1)


def mix64(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finaliser: a bijective avalanche hash of int64 values."""
    z = (z ^ _shr(z, 30)) * _M1
    z = (z ^ _shr(z, 27)) * _M2
    return z ^ _shr(z, 31)


def row_keys(prompts: Sequence[Sequence[int]], seed: int) -> list[int]:
    """One key per request from its prompt tokens, the seed and how often that prompt came before.

    The occurrence count keeps repeated prompts (lm-eval ``repeats``) from drawing identical samples.
    """
    seen: dict[bytes, int] = {}
    keys = []
    for prompt in prompts:
        raw = b",".join(str(t).encode() for t in prompt)
        occurrence = seen.get(raw, 0)
        seen[raw] = occurrence + 1
        key = zlib.crc32(raw) ^ (zlib.crc32(f"{seed}:{occurrence}".encode()) << 32)
        keys.append(key - (1 << 64) if key >= 1 << 63 else key)
    return keys


def uniform(keys: torch.Tensor, step: torch.Tensor, positions: torch.Tensor, width: int,
            salt: int = 0) -> torch.Tensor:
    """Uniform(0, 1) float64 of shape (rows, W, width).

    ``keys`` and ``step`` are (rows,) int64; ``positions`` (rows, W) int64 answer positions;
    ``width`` is 1 for one number per position or the vocabulary size for Gumbel noise; ``salt``
    separates independent streams (e.g. sampling vs. the random score).
    """
    dev = keys.device
    base = mix64(keys * _GOLDEN + mix64(step.to(dev) * 4 + salt))[:, None, None]
    cell = positions.to(dev)[:, :, None] * width + torch.arange(width, device=dev)[None, None, :]
    bits = _shr(mix64(base + cell * _GOLDEN), 11)  # SplitMix64's output for state base + cell·γ
    return (bits.to(torch.float64) + 0.5) * (2.0 ** -53)


def gumbel(keys: torch.Tensor, step: torch.Tensor, positions: torch.Tensor, width: int,
           salt: int = 1) -> torch.Tensor:
    """Standard Gumbel noise -log(-log U), float64, same layout as :func:`uniform`."""
    return -torch.log(-torch.log(uniform(keys, step, positions, width, salt)))
