"""``generate``: the model's own sampler (its ``generate()``) decodes instead of the engine's loop.

The family that has one (DiffusionGemma, docs/families.md) maps our knobs onto it and refuses the others, so this
strategy has no engine sampler and no knobs of its own.
"""

from __future__ import annotations

from lm_eval_mdlm.decoding.strategies.spec import Strategy

STRATEGY = Strategy("generate", "the model's own sampler (DiffusionGemma, its default)", None, order=100)
